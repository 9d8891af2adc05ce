import DicomCore

/// An instance as the index knows it: enough to find its file and its frames without parsing.
public struct StoredInstance: Sendable {
    public var path: String
    public var sopUID: String
    public var seriesUID: String
    public var studyUID: String
    public var sopClassUID: String?
    public var stamp: InstanceRecord.FileStamp
    public var transferSyntax: String
    public var rows: Int?
    public var columns: Int?
    public var samplesPerPixel: Int?
    public var bitsAllocated: Int?
    public var numberOfFrames: Int?
    public var pixelOffset: UInt64?
    public var pixelLength: UInt64?
    public var pixelEncapsulated: Bool
    public var frameTable: [UInt8]?
    public var photometric: String?
}

extension ArchiveIndex {
    private static let instanceColumns = """
        i.path, i.sop_uid, s.series_uid, t.study_uid, i.sop_class_uid, i.size, i.mtime_ns, i.inode, i.transfer_syntax,
        i.rows, i.columns, i.samples_per_pixel, i.bits_allocated, i.number_of_frames, i.pixel_offset, i.pixel_length,
        i.pixel_encapsulated, i.frame_table, i.photometric, i.etag
        FROM instances i JOIN series s USING (series_pk) JOIN studies t USING (study_pk)
        """

    private func readInstance(_ st: Statement) -> StoredInstance {
        func optionalInt(_ i: Int32) -> Int? { st.isNull(i) ? nil : Int(st.int(i)) }
        return StoredInstance(
            path: st.text(0) ?? "", sopUID: st.text(1) ?? "", seriesUID: st.text(2) ?? "", studyUID: st.text(3) ?? "",
            sopClassUID: st.text(4),
            stamp: InstanceRecord.FileStamp(size: st.int(5), mtimeNanoseconds: st.int(6), inode: st.int(7), etag: st.text(19)),
            transferSyntax: st.text(8) ?? "", rows: optionalInt(9), columns: optionalInt(10), samplesPerPixel: optionalInt(11),
            bitsAllocated: optionalInt(12), numberOfFrames: optionalInt(13),
            pixelOffset: optionalInt(14).map { UInt64($0) }, pixelLength: optionalInt(15).map { UInt64($0) },
            pixelEncapsulated: st.int(16) != 0, frameTable: st.blob(17), photometric: st.text(18))
    }

    public func instance(sopUID: String) throws -> StoredInstance? {
        let st = try database.prepare("SELECT \(Self.instanceColumns) WHERE i.sop_uid = ?")
        st.bind([.text(sopUID)])
        defer { st.reset() }
        return try st.step() ? readInstance(st) : nil
    }

    public func instance(storedPath: String) throws -> StoredInstance? {
        let st = try database.prepare("SELECT \(Self.instanceColumns) WHERE i.path = ?")
        st.bind([.text(storedPath)])
        defer { st.reset() }
        return try st.step() ? readInstance(st) : nil
    }

    /// The instances of a study or series, in series then instance order.
    public func instances(studyUID: String?, seriesUID: String?) throws -> [StoredInstance] {
        var conditions: [String] = [], values: [SQLValue] = []
        if let studyUID { conditions.append("t.study_uid = ?"); values.append(.text(studyUID)) }
        if let seriesUID { conditions.append("s.series_uid = ?"); values.append(.text(seriesUID)) }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let st = try database.prepare("""
            SELECT \(Self.instanceColumns) \(whereClause)
            ORDER BY t.study_date, t.study_uid, s.series_number IS NULL, s.series_number, s.series_uid,
                     i.instance_number IS NULL, i.instance_number, i.sop_uid
            """)
        st.bind(values)
        var result: [StoredInstance] = []
        while try st.step() { result.append(readInstance(st)) }
        return result
    }

    /// Keeps a frame table built by a scan, if the row still describes the same file. A
    /// read-only index writes through a second connection, opened for this.
    public func storeFrameTable(_ table: [UInt8], sopUID: String, stamp: InstanceRecord.FileStamp) throws {
        let db = try writableDatabase()
        try db.writeTransaction {
            try db.prepare("UPDATE instances SET frame_table = ? WHERE sop_uid = ? AND size = ? AND mtime_ns = ? AND inode = ? AND etag IS ?")
                .run([.blob(table), .text(sopUID), .integer(stamp.size), .integer(stamp.mtimeNanoseconds), .integer(stamp.inode),
                      SQLValue(stamp.etag)])
        }
    }
}
