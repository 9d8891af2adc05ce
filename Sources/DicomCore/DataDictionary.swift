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
/// The table is parsed once, on first use.
public enum DataDictionary {
    private struct Tables: Sendable {
        var byTag: [UInt32: DictionaryEntry] = [:]
        var byKeyword: [String: DictionaryEntry] = [:]
        /// Repeating groups (50xx, 60xx …): mask of fixed bits, value of those bits, entry.
        var repeaters: [(mask: UInt32, value: UInt32, entry: DictionaryEntry)] = []
    }

    private static let tables: Tables = {
        var tables = Tables()
        for line in dictionaryTable.split(separator: "\n") {
            guard let entry = parse(line: line, tagText: nil) else { continue }
            tables.byTag[entry.tag.rawValue] = entry
            if !entry.keyword.isEmpty { tables.byKeyword[entry.keyword] = entry }
        }
        for line in repeatersTable.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard let maskText = fields.first, maskText.count == 8 else { continue }
            var mask: UInt32 = 0, value: UInt32 = 0
            for char in maskText {
                mask <<= 4; value <<= 4
                if let digit = char.hexDigitValue { mask |= 0xF; value |= UInt32(digit) }
            }
            guard let entry = parse(line: line, tagText: String(format8: value)) else { continue }
            tables.repeaters.append((mask, value, entry))
            if !entry.keyword.isEmpty, tables.byKeyword[entry.keyword] == nil { tables.byKeyword[entry.keyword] = entry }
        }
        return tables
    }()

    private static func parse(line: Substring, tagText: String?) -> DictionaryEntry? {
        let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
        guard fields.count >= 6, let raw = UInt32(tagText ?? String(fields[0]), radix: 16) else { return nil }
        // "US or SS or OW", "OB or OW", "NONE" (item tags), "" for a few retired commands.
        let vrs = fields[1].split(separator: " ").compactMap { VR(rawValue: String($0)) }
        return DictionaryEntry(tag: Tag(rawValue: raw), vr: vrs.first ?? .UN, allowedVRs: vrs.isEmpty ? [.UN] : vrs,
                               vm: String(fields[2]), keyword: String(fields[3]), name: String(fields[4]),
                               isRetired: fields[5] == "R")
    }

    public static func entry(for tag: Tag) -> DictionaryEntry? {
        let tables = Self.tables
        if let entry = tables.byTag[tag.rawValue] { return entry }
        if tag.isPrivate { return nil }
        if tag.element == 0 {
            // Every standard group has a group length (gggg,0000), UL, retired outside group 0002.
            return DictionaryEntry(tag: tag, vr: .UL, allowedVRs: [.UL], vm: "1", keyword: "", name: "Group Length", isRetired: true)
        }
        for repeater in tables.repeaters where tag.rawValue & repeater.mask == repeater.value {
            let e = repeater.entry
            return DictionaryEntry(tag: tag, vr: e.vr, allowedVRs: e.allowedVRs, vm: e.vm, keyword: e.keyword, name: e.name, isRetired: e.isRetired)
        }
        return nil
    }

    public static func entry(keyword: String) -> DictionaryEntry? { tables.byKeyword[keyword] }

    /// The VR an implicit VR data set implies for `tag`: the dictionary's first VR, UL for group
    /// lengths, LO for private creators, UN otherwise.
    public static func implicitVR(for tag: Tag) -> VR {
        if tag.isPrivateCreator { return .LO }
        return entry(for: tag)?.vr ?? .UN
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
