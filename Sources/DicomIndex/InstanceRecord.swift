import DicomCore
import DicomParser

/// What the index keeps of one instance: its file, the query attributes, and where its pixel
/// data and frames are.
public struct InstanceRecord: Sendable {
    public struct FileStamp: Sendable, Equatable {
        public var size: Int64
        public var mtimeNanoseconds: Int64
        public var inode: Int64
        /// The HTTP ETag of an object indexed from a URL (part of its identity there, as the
        /// inode is for a local file); nil for local files.
        public var etag: String?
        public init(size: Int64, mtimeNanoseconds: Int64, inode: Int64, etag: String? = nil) {
            self.size = size
            self.mtimeNanoseconds = mtimeNanoseconds
            self.inode = inode
            self.etag = etag
        }
    }

    /// As stored: relative to the archive root when inside it, else absolute.
    public var path: String
    public var stamp: FileStamp
    public var transferSyntax: String
    public var studyUID: String
    public var seriesUID: String
    public var sopUID: String
    /// SOP Class UID (or the meta's Media Storage SOP Class UID): the writer adds it to the
    /// study's SOPClassesInStudy without re-reading the study's instances.
    public var sopClassUID: String?
    /// The values of each level's attribute columns, search columns included, in
    /// `IndexSchema.columns(for:)` order. Computed here, on the parsing threads, so that the
    /// single writer only binds them.
    public internal(set) var studyValues = ColumnValues(capacity: 0)
    public internal(set) var seriesValues = ColumnValues(capacity: 0)
    public internal(set) var instanceValues = ColumnValues(capacity: 0)
    public var pixelOffset: UInt64?
    public var pixelLength: UInt64?
    public var pixelEncapsulated = false
    /// Packed frame spans (FrameSpan.pack) when the file has an offset table.
    public var frameTable: [UInt8]?

    /// Reads the record out of a parsed header. Throws when the UIDs that place the instance in
    /// the hierarchy are missing. `cache` (one per thread) spares re-deriving the search values
    /// of texts that earlier files of the same thread had.
    public init(file: DicomFile, path: String, stamp: FileStamp, cache: SearchValueCache? = nil) throws {
        let ds = file.dataSet
        func required(_ tag: Tag, _ name: String) throws -> String {
            // As the column stores it (joinedText), not DataSet.string: the same text, by a
            // cheaper path.
            guard let value = ds[tag].flatMap({ Self.joinedText($0, characterSet: ds.characterSet) }), !value.isEmpty else {
                throw DicomParserError(.invalid, source: file.source.name, tag: tag, message: "missing \(name)")
            }
            return value
        }
        self.path = path
        self.stamp = stamp
        transferSyntax = file.transferSyntax.uid
        studyUID = try required(.studyInstanceUID, "StudyInstanceUID")
        seriesUID = try required(.seriesInstanceUID, "SeriesInstanceUID")
        sopUID = try required(.sopInstanceUID, "SOPInstanceUID")
        var sopClass: String?
        // Date-times without an offset of their own are in the data set's zone (PS3.5 6.2 DT);
        // looked up at the first date-time, as most files have none.
        var timezoneOffset: String??
        func values(_ level: QueryLevel) -> ColumnValues {
            var values = ColumnValues(capacity: IndexSchema.columnCount(level))
            for column in Self.readPlan(level) {
                let element = ds[column.tag]
                switch column.match {
                case .integer:
                    values.append(element.flatMap { Self.integer($0, bigEndian: ds.isBigEndian) } ?? ds.int(column.tag))
                case .personName, .time, .dateTime:
                    // Their search columns are derived from the text.
                    let text = element.flatMap { Self.joinedText($0, characterSet: ds.characterSet) }
                    values.append(text)
                    var offset: String?
                    if column.match == .dateTime, text != nil {
                        if timezoneOffset == nil {
                            timezoneOffset = .some(ds[Self.timezoneOffsetFromUTC].flatMap { Self.joinedText($0, characterSet: ds.characterSet) })
                        }
                        offset = timezoneOffset ?? nil
                    }
                    IndexSchema.appendSearchValues(for: column.match, text: text, to: &values, cache: cache, timezoneOffset: offset)
                default:
                    if column.tag == .sopClassUID {
                        let text = element.flatMap { Self.joinedText($0, characterSet: ds.characterSet) }
                            ?? file.fileMeta.string(.mediaStorageSOPClassUID)
                        sopClass = text
                        values.append(text)
                    } else {
                        values.appendText { out in element.map { Self.appendJoinedText($0, characterSet: ds.characterSet, to: &out) } ?? false }
                    }
                }
            }
            return values
        }
        studyValues = values(.study)
        seriesValues = values(.series)
        instanceValues = values(.instance)
        sopClassUID = sopClass
        if let location = try? file.pixelDataLocation() {
            pixelOffset = location.valueOffset
            pixelLength = location.length
            pixelEncapsulated = location.isEncapsulated
            let frames = max(1, ds.int(.numberOfFrames) ?? 1)
            if location.isEncapsulated, let table = try? file.frameSpansFromOffsetTables(location: location, frameCount: frames) {
                frameTable = FrameSpan.pack(table.spans)
            }
        }
    }

    static let timezoneOffsetFromUTC = Tag(0x0008, 0x0201)

    /// What the record reads per level: the attributes' tags and matching kinds, without the
    /// QueryAttribute values themselves (copying them, strings and all, for each attribute of
    /// each file was a tenth of making a record).
    private static func readPlan(_ level: QueryLevel) -> [(tag: Tag, match: MatchKind)] {
        switch level {
        case .study: return studyPlan
        case .series: return seriesPlan
        case .instance: return instancePlan
        }
    }

    private static let studyPlan = makePlan(.study), seriesPlan = makePlan(.series), instancePlan = makePlan(.instance)

    private static func makePlan(_ level: QueryLevel) -> [(tag: Tag, match: MatchKind)] {
        QueryAttributes.attributes(at: level).map { (tag: $0.tag, match: $0.match) }
    }

    /// The element's values as DataSet.strings gives them, joined by backslash; nil when it has
    /// none.
    static func joinedText(_ element: DataElement, characterSet: SpecificCharacterSet) -> String? {
        var out: [UInt8] = []
        guard appendJoinedText(element, characterSet: characterSet, to: &out) else { return nil }
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the element's values, joined by backslash, as UTF-8 to `out`; false (nothing
    /// appended) when it has none. ASCII values (most) are trimmed and joined on bytes, without
    /// a String per value.
    static func appendJoinedText(_ element: DataElement, characterSet: SpecificCharacterSet, to out: inout [UInt8]) -> Bool {
        guard element.vr.isString, let bytes = element.bytes, !bytes.isEmpty else { return false }
        let vr = element.vr
        let split = !vr.isSingleValuedText, trimLeading = vr == .AE || vr == .DS || vr == .IS
        let ascii = bytes.withUnsafeBufferPointer { b -> Bool in
            guard !b.contains(where: { $0 >= 0x80 || $0 == 0x1B }) else { return false }
            func emit(_ from: Int, _ to: Int) {
                var s = from, e = to
                while e > s, b[e - 1] == 0x20 || b[e - 1] == 0 { e -= 1 }
                if trimLeading { while s < e, b[s] == 0x20 { s += 1 } }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: b[s..<e]))
            }
            var from = 0
            if split {
                for i in 0..<b.count where b[i] == UInt8(ascii: "\\") {
                    emit(from, i)
                    out.append(UInt8(ascii: "\\"))
                    from = i + 1
                }
            }
            emit(from, b.count)
            return true  // possibly nothing appended: an element of only padding is stored as ""
        }
        if ascii { return true }
        guard let values = element.strings(characterSet: characterSet), !values.isEmpty else { return false }
        out.append(contentsOf: values.joined(separator: "\\").utf8)
        return true
    }

    /// The first value of a US element, or of an IS element that is one plain decimal number,
    /// read straight from its bytes; nil for anything else (DataSet.int decides then). The
    /// indexer reads several of these per file.
    static func integer(_ element: DataElement, bigEndian: Bool) -> Int? {
        guard let bytes = element.bytes else { return nil }
        switch element.vr {
        case .US:
            guard bytes.count >= 2 else { return nil }
            return bigEndian ? Int(bytes[0]) << 8 | Int(bytes[1]) : Int(bytes[1]) << 8 | Int(bytes[0])
        case .IS:
            var s = 0, e = bytes.count
            while s < e, bytes[s] == 0x20 { s += 1 }
            while e > s, bytes[e - 1] == 0x20 || bytes[e - 1] == 0 { e -= 1 }
            var negative = false
            if s < e, bytes[s] == UInt8(ascii: "-") || bytes[s] == UInt8(ascii: "+") {
                negative = bytes[s] == UInt8(ascii: "-")
                s += 1
            }
            // Up to 12 digits (IS is at most 12 characters): no overflow.
            guard s < e, e - s <= 12 else { return nil }
            var n = 0
            for i in s..<e {
                let digit = bytes[i] &- UInt8(ascii: "0")
                guard digit < 10 else { return nil }
                n = n * 10 + Int(digit)
            }
            return negative ? -n : n
        default:
            return nil
        }
    }
}
