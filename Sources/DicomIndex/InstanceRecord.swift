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
    public internal(set) var studyValues = ColumnValues()
    public internal(set) var seriesValues = ColumnValues()
    public internal(set) var instanceValues = ColumnValues()
    public var pixelOffset: UInt64?
    public var pixelLength: UInt64?
    public var pixelEncapsulated = false
    /// Packed frame spans (FrameSpan.pack) when the file has an offset table.
    public var frameTable: [UInt8]?

    /// Reads the record out of a parsed header. Throws when the UIDs that place the instance in
    /// the hierarchy are missing. `cache` (one per thread) spares re-deriving the search values
    /// of texts that earlier files of the same thread had.
    public init(file: DicomFile, path: String, stamp: FileStamp, cache: SearchValueCache? = nil) throws {
        let columns = Self.readColumns(of: file.dataSet, fileMeta: file.fileMeta, cache: cache)
        // The UIDs as their columns store them (joined text), which DataSet.string gives too.
        func required(_ range: Range<Int>?, in values: ColumnValues, _ tag: Tag, _ name: String) throws -> String {
            guard let range, !range.isEmpty else {
                throw DicomParserError(.invalid, source: file.source.name, tag: tag, message: "missing \(name)")
            }
            return values.string(range)
        }
        self.path = path
        self.stamp = stamp
        transferSyntax = file.transferSyntax.uid
        studyUID = try required(columns.studyUID, in: columns.study, .studyInstanceUID, "StudyInstanceUID")
        seriesUID = try required(columns.seriesUID, in: columns.series, .seriesInstanceUID, "SeriesInstanceUID")
        sopUID = try required(columns.sopUID, in: columns.instance, .sopInstanceUID, "SOPInstanceUID")
        studyValues = columns.study
        seriesValues = columns.series
        instanceValues = columns.instance
        sopClassUID = columns.sopClass
        let ds = file.dataSet
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

    /// The three levels' column values, and where the hierarchy's UIDs are among them.
    private struct Columns {
        var study = ColumnValues(), series = ColumnValues(), instance = ColumnValues()
        var sopClass: String?
        var studyUID: Range<Int>?, seriesUID: Range<Int>?, sopUID: Range<Int>?
    }

    /// What the record reads: the attributes' tags in ascending order, so that one merge with
    /// the data set's (sorted) elements finds them all, and per level its columns' tags, matching
    /// kinds and positions in that list. The elements are read where they are: copying one out
    /// of the data set (a lookup per attribute) and destroying the copy was a fifth of making a
    /// record.
    private struct ReadPlan {
        struct Column {
            let tag: Tag
            let match: MatchKind
            /// Index in `tags`; also the attribute's slot in SearchValueCache's recent texts.
            let slot: Int
        }

        let tags: [Tag]
        let study: [Column], series: [Column], instance: [Column]
        let timezoneSlot: Int

        init() {
            let levels = [QueryLevel.study, .series, .instance].map { QueryAttributes.attributes(at: $0) }
            tags = Array(Set(levels.joined().map(\.tag) + [InstanceRecord.timezoneOffsetFromUTC])).sorted()
            let tags = self.tags
            func columns(_ attributes: [QueryAttribute]) -> [Column] {
                attributes.map { Column(tag: $0.tag, match: $0.match, slot: tags.firstIndex(of: $0.tag)!) }
            }
            study = columns(levels[0])
            series = columns(levels[1])
            instance = columns(levels[2])
            timezoneSlot = tags.firstIndex(of: InstanceRecord.timezoneOffsetFromUTC)!
        }
    }

    private static let plan = ReadPlan()

    private static func readColumns(of ds: DataSet, fileMeta: DataSet, cache: SearchValueCache?) -> Columns {
        let plan = Self.plan
        let characterSet = ds.characterSet, bigEndian = ds.isBigEndian
        return ds.elements.withUnsafeBufferPointer { elements in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: plan.tags.count) { found in
                // found[slot]: the index of the element with plan.tags[slot], or -1.
                var e = 0
                for (slot, tag) in plan.tags.enumerated() {
                    while e < elements.count, elements[e].tag < tag { e += 1 }
                    found[slot] = e < elements.count && elements[e].tag == tag ? e : -1
                }
                var columns = Columns()
                // Date-times without an offset of their own are in the data set's zone (PS3.5
                // 6.2 DT); looked up at the first date-time, as most files have none.
                var timezoneOffset: String??
                func values(_ level: [ReadPlan.Column]) -> ColumnValues {
                    var values = ColumnValues(capacity: level.count + level.reduce(0) { $0 + IndexSchema.searchColumnCount($1.match) })
                    for column in level {
                        let i = found[column.slot]
                        switch column.match {
                        case .integer:
                            values.append(i < 0 ? nil : integer(elements.baseAddress! + i, bigEndian: bigEndian) ?? ds.int(column.tag))
                        case .personName, .time, .dateTime:
                            // Their search columns are derived from the text.
                            guard i >= 0, let range = values.appendText({ appendJoinedText(elements.baseAddress! + i, characterSet: characterSet, to: &$0) }) else {
                                if i < 0 { values.appendNull() }
                                for _ in 0..<IndexSchema.searchColumnCount(column.match) { values.appendNull() }
                                continue
                            }
                            var offset: String?
                            if column.match == .dateTime {
                                if timezoneOffset == nil {
                                    let z = found[plan.timezoneSlot]
                                    timezoneOffset = .some(z < 0 ? nil : joinedText(elements.baseAddress! + z, characterSet: characterSet))
                                }
                                offset = timezoneOffset ?? nil
                            }
                            // The recent texts, like the cache, are only for values that do not
                            // depend on a zone.
                            let recent = offset == nil ? cache : nil
                            let derived: [SQLValue]
                            if let recent, let known = values.withText(range, { recent.recentValues(slot: column.slot, match: column.match, text: $0) }) {
                                derived = known
                            } else {
                                derived = IndexSchema.searchValues(for: column.match, text: values.string(range), cache: cache, timezoneOffset: offset)
                                if let recent { values.withText(range) { recent.remember(slot: column.slot, match: column.match, text: $0, values: derived) } }
                            }
                            for value in derived { values.append(value) }
                        default:
                            if column.tag == .sopClassUID {
                                let text = (i < 0 ? nil : joinedText(elements.baseAddress! + i, characterSet: characterSet))
                                    ?? fileMeta.string(.mediaStorageSOPClassUID)
                                columns.sopClass = text
                                values.append(text)
                                continue
                            }
                            let range = i < 0 ? nil : values.appendText { appendJoinedText(elements.baseAddress! + i, characterSet: characterSet, to: &$0) }
                            if i < 0 { values.appendNull() }
                            switch column.tag {
                            case .studyInstanceUID: columns.studyUID = range
                            case .seriesInstanceUID: columns.seriesUID = range
                            case .sopInstanceUID: columns.sopUID = range
                            default: break
                            }
                        }
                    }
                    return values
                }
                columns.study = values(plan.study)
                columns.series = values(plan.series)
                columns.instance = values(plan.instance)
                return columns
            }
        }
    }

    /// The element's values as DataSet.strings gives them, joined by backslash; nil when it has
    /// none.
    static func joinedText(_ element: UnsafePointer<DataElement>, characterSet: SpecificCharacterSet) -> String? {
        var out: [UInt8] = []
        guard appendJoinedText(element, characterSet: characterSet, to: &out) else { return nil }
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the element's values, joined by backslash, as UTF-8 to `out`; false (nothing
    /// appended) when it has none. The values are trimmed and joined on bytes in one pass,
    /// without a String per value: ASCII (most) as it is, other text once decoded. The element
    /// is read where it lies in the data set's storage: a DataElement argument cost a copy and
    /// its destruction per call.
    static func appendJoinedText(_ element: UnsafePointer<DataElement>, characterSet: SpecificCharacterSet, to out: inout [UInt8]) -> Bool {
        let vr = element.pointee.vr
        guard vr.isString, let bytes = element.pointee.bytes, !bytes.isEmpty else { return false }
        let start = out.count
        // Possibly nothing appended: an element of only padding is stored as "".
        if bytes.withUnsafeBufferPointer({ appendSplit($0, vr: vr, below: 0x80, to: &out) }) { return true }
        out.removeSubrange(start...)
        // DataElement.strings splits and trims the decoded text on Characters. Where every
        // scalar is below U+0300 (every UTF-8 byte below 0xCC: Latin-1 text always) none of
        // them joins a backslash, space or NUL into a larger Character, so bytes give the same.
        var text = characterSet.decode(bytes[...], vr: vr)
        if text.withUTF8({ appendSplit($0, vr: vr, below: 0xCC, to: &out) }) { return true }
        out.removeSubrange(start...)
        guard let values = element.pointee.strings(characterSet: characterSet), !values.isEmpty else { return false }
        out.append(contentsOf: values.joined(separator: "\\").utf8)
        return true
    }

    /// Appends `b`'s values split at backslashes (unless the VR has one value), each trimmed as
    /// DataElement.strings does, joined by backslash. False, with a partial value appended, at
    /// the first byte that is not below `limit` or is an escape (ESC starts an ISO 2022 code).
    private static func appendSplit(_ b: UnsafeBufferPointer<UInt8>, vr: VR, below limit: UInt8, to out: inout [UInt8]) -> Bool {
        let split = !vr.isSingleValuedText, trimLeading = vr == .AE || vr == .DS || vr == .IS
        let n = b.count, raw = UnsafeRawPointer(b.baseAddress!)
        var from = 0, i = 0
        while i < n {
            // Eight ASCII bytes at a time when none of them is an escape or a backslash to split
            // at (most UIDs, names, codes): a third of the instructions of a byte loop.
            if limit == 0x80, n - i >= 8 {
                let word = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                if word & 0x8080_8080_8080_8080 == 0, !hasByte(word, 0x1B), !split || !hasByte(word, 0x5C) {
                    i += 8
                    continue
                }
            }
            let byte = b[i]
            if byte >= limit || byte == 0x1B { return false }
            if byte == UInt8(ascii: "\\"), split {
                appendTrimmed(b, from, i, trimLeading: trimLeading, to: &out)
                out.append(UInt8(ascii: "\\"))
                from = i + 1
            }
            i += 1
        }
        appendTrimmed(b, from, b.count, trimLeading: trimLeading, to: &out)
        return true
    }

    /// Whether one of the eight bytes of `word` is `byte` (exact: the zero-byte test).
    @inline(__always)
    private static func hasByte(_ word: UInt64, _ byte: UInt8) -> Bool {
        let x = word ^ (0x0101_0101_0101_0101 &* UInt64(byte))
        return (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080 != 0
    }

    @inline(__always)
    private static func appendTrimmed(_ b: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int, trimLeading: Bool, to out: inout [UInt8]) {
        var s = from, e = to
        while e > s, b[e - 1] == 0x20 || b[e - 1] == 0 { e -= 1 }
        if trimLeading { while s < e, b[s] == 0x20 { s += 1 } }
        if s < e { out.append(contentsOf: UnsafeBufferPointer(rebasing: b[s ..< e])) }
    }

    /// The first value of a US element, or of an IS element that is one plain decimal number,
    /// read straight from its bytes; nil for anything else (DataSet.int decides then). The
    /// indexer reads several of these per file.
    static func integer(_ element: UnsafePointer<DataElement>, bigEndian: Bool) -> Int? {
        guard let bytes = element.pointee.bytes else { return nil }
        switch element.pointee.vr {
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
