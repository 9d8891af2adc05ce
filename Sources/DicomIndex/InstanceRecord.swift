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
    /// The values of each level's attribute columns, search columns included, in
    /// `IndexSchema.columns(for:)` order. Computed here, on the parsing threads, so that the
    /// single writer only binds them.
    public internal(set) var studyValues: [SQLValue] = []
    public internal(set) var seriesValues: [SQLValue] = []
    public internal(set) var instanceValues: [SQLValue] = []
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
            guard let value = ds.string(tag), !value.isEmpty else {
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
        // Date-times without an offset of their own are in the data set's zone (PS3.5 6.2 DT);
        // looked up at the first date-time, as most files have none.
        var timezoneOffset: String??
        func values(_ level: QueryLevel) -> [SQLValue] {
            var values: [SQLValue] = []
            values.reserveCapacity(IndexSchema.columnCount(level))
            for attribute in QueryAttributes.attributes(at: level) {
                if attribute.match == .integer {
                    let element = ds[attribute.tag]
                    values.append(SQLValue(element.flatMap { Self.integer($0, bigEndian: ds.isBigEndian) } ?? ds.int(attribute.tag)))
                    continue
                }
                var text = ds[attribute.tag].flatMap { Self.joinedText($0, characterSet: ds.characterSet) }
                if text == nil, attribute.tag == .sopClassUID { text = file.fileMeta.string(.mediaStorageSOPClassUID) }
                values.append(SQLValue(text))
                if attribute.match == .dateTime, text != nil {
                    if timezoneOffset == nil {
                        timezoneOffset = .some(ds[Self.timezoneOffsetFromUTC].flatMap { Self.joinedText($0, characterSet: ds.characterSet) })
                    }
                    IndexSchema.appendSearchValues(for: attribute, text: text, to: &values, cache: cache, timezoneOffset: timezoneOffset!)
                } else {
                    IndexSchema.appendSearchValues(for: attribute, text: text, to: &values, cache: cache)
                }
            }
            return values
        }
        studyValues = values(.study)
        seriesValues = values(.series)
        instanceValues = values(.instance)
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

    /// The element's values as DataSet.strings gives them, joined by backslash; nil when it has
    /// none. ASCII values (most) are trimmed and joined on bytes, without a String per value.
    static func joinedText(_ element: DataElement, characterSet: SpecificCharacterSet) -> String? {
        guard element.vr.isString, let bytes = element.bytes, !bytes.isEmpty else { return nil }
        guard !bytes.contains(where: { $0 >= 0x80 || $0 == 0x1B }) else {
            return element.strings(characterSet: characterSet).flatMap { $0.isEmpty ? nil : $0.joined(separator: "\\") }
        }
        let vr = element.vr
        let split = !vr.isSingleValuedText, trimLeading = vr == .AE || vr == .DS || vr == .IS
        if !split || !bytes.contains(UInt8(ascii: "\\")) {
            // One value (the usual case): trimmed in place, no copy before the String.
            var s = 0, e = bytes.count
            while e > s, bytes[e - 1] == 0x20 || bytes[e - 1] == 0 { e -= 1 }
            if trimLeading { while s < e, bytes[s] == 0x20 { s += 1 } }
            return String(decoding: bytes[s..<e], as: UTF8.self)
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var start = 0
        func emit(_ end: Int) {
            var s = start, e = end
            while e > s, bytes[e - 1] == 0x20 || bytes[e - 1] == 0 { e -= 1 }
            if trimLeading { while s < e, bytes[s] == 0x20 { s += 1 } }
            out.append(contentsOf: bytes[s..<e])
        }
        if split {
            for i in 0..<bytes.count where bytes[i] == UInt8(ascii: "\\") {
                emit(i)
                out.append(UInt8(ascii: "\\"))
                start = i + 1
            }
        }
        emit(bytes.count)
        return String(decoding: out, as: UTF8.self)
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
