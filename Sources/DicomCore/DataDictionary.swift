/// One attribute of the data dictionary (PS3.6).
public struct DictionaryEntry: Sendable {
    public let tag: Tag
    public let vr: VR
    /// All VRs the standard allows ("US or SS", "OB or OW"); the first is `vr`.
    public let allowedVRs: [VR]
    public let vm: String
    public let keyword: String
    public let name: String
    public let isRetired: Bool
}

/// Lookups in the data dictionary generated from the standard by Scripts/gen-dictionary.py.
/// Tag and VR look-ups use generated integer arrays; the text table (names, keywords, VM) is
/// parsed once, at the byte level, only when those are asked for.
public enum DataDictionary {
    private struct Tables: Sendable {
        /// Sorted by tag, as the generated table is.
        var entries: [DictionaryEntry] = []
    }

    private static let tables: Tables = {
        var tables = Tables()
        tables.entries.reserveCapacity(5200)
        forEachRow(dictionaryTable) { fields in
            guard let tag = hexValue(fields[0]), let entry = entry(tag: tag, fields) else { return }
            tables.entries.append(entry)
        }
        return tables
    }()

    /// Repeating groups (50xx, 60xx …): mask of fixed bits, value of those bits, entry. Apart
    /// from the big table: an implicit VR overlay element needs only these few rows.
    private static let repeaters: [(mask: UInt32, value: UInt32, entry: DictionaryEntry)] = {
        var repeaters: [(mask: UInt32, value: UInt32, entry: DictionaryEntry)] = []
        forEachRow(repeatersTable) { fields in
            var mask: UInt32 = 0, value: UInt32 = 0
            for byte in fields[0] {
                mask <<= 4; value <<= 4
                if let digit = hexDigit(byte) { mask |= 0xF; value |= UInt32(digit) }
            }
            guard let entry = entry(tag: value, fields) else { return }
            repeaters.append((mask, value, entry))
        }
        return repeaters
    }()

    private static let byKeyword: [String: DictionaryEntry] = {
        var result: [String: DictionaryEntry] = [:]
        result.reserveCapacity(tables.entries.count)
        for entry in tables.entries where !entry.keyword.isEmpty { result[entry.keyword] = entry }
        for repeater in repeaters where result[repeater.entry.keyword] == nil { result[repeater.entry.keyword] = repeater.entry }
        return result
    }()

    /// Calls `body` with the six tab-separated fields of each line, as byte slices.
    private static func forEachRow(_ table: String, _ body: ([ArraySlice<UInt8>]) -> Void) {
        let bytes = Array(table.utf8)
        var fields: [ArraySlice<UInt8>] = []
        fields.reserveCapacity(6)
        var lineStart = 0
        var fieldStart = 0
        for i in 0...bytes.count {
            let byte: UInt8 = i < bytes.count ? bytes[i] : 10
            if byte == 9 {
                fields.append(bytes[fieldStart..<i])
                fieldStart = i + 1
            } else if byte == 10 {
                fields.append(bytes[fieldStart..<i])
                if fields.count >= 6 { body(fields) }
                fields.removeAll(keepingCapacity: true)
                lineStart = i + 1
                fieldStart = lineStart
            }
        }
    }

    private static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }

    private static func hexValue(_ field: ArraySlice<UInt8>) -> UInt32? {
        guard field.count == 8 else { return nil }
        var value: UInt32 = 0
        for byte in field {
            guard let digit = hexDigit(byte) else { return nil }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    private static func entry(tag: UInt32, _ f: [ArraySlice<UInt8>]) -> DictionaryEntry? {
        // "US or SS or OW", "OB or OW", "NONE" (item tags), "" for a few retired commands.
        var vrs: [VR] = []
        var i = f[1].startIndex
        while i + 1 < f[1].endIndex {
            if let vr = VR(byte0: f[1][i], byte1: f[1][i + 1]) { vrs.append(vr) }
            i += 1
            while i < f[1].endIndex, f[1][i] != 0x20 { i += 1 }
            i += 1
        }
        return DictionaryEntry(tag: Tag(rawValue: tag), vr: vrs.first ?? .UN, allowedVRs: vrs.isEmpty ? [.UN] : vrs,
                               vm: String(decoding: f[2], as: UTF8.self), keyword: String(decoding: f[3], as: UTF8.self),
                               name: String(decoding: f[4], as: UTF8.self), isRetired: f[5].first == UInt8(ascii: "R"))
    }

    public static func entry(for tag: Tag) -> DictionaryEntry? {
        if let i = index(of: tag), i < tables.entries.count, tables.entries[i].tag == tag { return tables.entries[i] }
        return entryOutsideTable(for: tag)
    }

    /// Group lengths and repeating groups, which the big table does not list.
    private static func entryOutsideTable(for tag: Tag) -> DictionaryEntry? {
        if tag.isPrivate { return nil }
        if tag.element == 0 {
            // Every standard group has a group length (gggg,0000), UL, retired outside group 0002.
            return DictionaryEntry(tag: tag, vr: .UL, allowedVRs: [.UL], vm: "1", keyword: "", name: "Group Length", isRetired: true)
        }
        for repeater in repeaters where tag.rawValue & repeater.mask == repeater.value {
            let e = repeater.entry
            return DictionaryEntry(tag: tag, vr: e.vr, allowedVRs: e.allowedVRs, vm: e.vm, keyword: e.keyword, name: e.name, isRetired: e.isRetired)
        }
        return nil
    }

    public static func entry(keyword: String) -> DictionaryEntry? { byKeyword[keyword] }

    /// The VR an implicit VR data set implies for `tag`: the dictionary's first VR, UL for group
    /// lengths, LO for private creators, UN otherwise.
    public static func implicitVR(for tag: Tag) -> VR {
        if tag.isPrivateCreator { return .LO }
        if let i = index(of: tag) {
            let code = dictionaryVRCodes[i]
            return VR(byte0: UInt8(truncatingIfNeeded: code >> 8 & 0x7F), byte1: UInt8(truncatingIfNeeded: code)) ?? .UN
        }
        return entry(for: tag)?.vr ?? .UN
    }

    /// `implicitVR(for:)` and `hasAmbiguousVR(_:)` with one search, for the parser's implicit VR
    /// elements. Tags the integer table lacks are answered without the text table (5,000 rows
    /// parsed on first use), so parsing files does not pay for building it.
    public static func impliedVR(for tag: Tag) -> (vr: VR, isAmbiguous: Bool) {
        if let i = index(of: tag) {
            let code = dictionaryVRCodes[i]
            if tag.isPrivateCreator { return (.LO, code & 0x8000 != 0) }
            let vr = VR(byte0: UInt8(truncatingIfNeeded: code >> 8 & 0x7F), byte1: UInt8(truncatingIfNeeded: code)) ?? .UN
            return (vr, code & 0x8000 != 0)
        }
        if tag.isPrivateCreator { return (.LO, false) }
        guard let entry = entryOutsideTable(for: tag) else { return (.UN, false) }
        return (entry.vr, entry.allowedVRs.count > 1)
    }

    /// Whether the dictionary allows several VRs for `tag` ("US or SS", "OB or OW" …).
    public static func hasAmbiguousVR(_ tag: Tag) -> Bool {
        if let i = index(of: tag) { return dictionaryVRCodes[i] & 0x8000 != 0 }
        return (entry(for: tag)?.allowedVRs.count ?? 0) > 1
    }

    /// Position of `tag` in the generated integer table (the text table has the same order), found
    /// without parsing the text table: the parser's look-ups cost no start-up time.
    private static func index(of tag: Tag) -> Int? {
        dictionaryTags.withUnsafeBufferPointer { tags in
            // Halving without an early exit or a data-dependent branch (a conditional move):
            // 13 steps for 5,000 tags, at a third of the cost of the branching search.
            guard var base = tags.baseAddress, !tags.isEmpty else { return nil }
            let start = base
            var count = tags.count
            while count > 1 {
                let half = count / 2
                base = base[half] <= tag.rawValue ? base + half : base
                count -= half
            }
            return base.pointee == tag.rawValue ? start.distance(to: base) : nil
        }
    }

    public static func keyword(for tag: Tag) -> String {
        if tag.isPrivateCreator { return "PrivateCreator" }
        return entry(for: tag)?.keyword ?? ""
    }
}

extension String {
    init(format8 value: UInt32) {
        self = hex4(UInt16(truncatingIfNeeded: value >> 16)) + hex4(UInt16(truncatingIfNeeded: value))
    }
}
