/// A DICOM attribute tag: (group, element) packed as `group << 16 | element`, so that the
/// natural integer order is the order the standard requires in data sets and JSON.
public struct Tag: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ group: UInt16, _ element: UInt16) {
        rawValue = UInt32(group) << 16 | UInt32(element)
    }

    public var group: UInt16 { UInt16(truncatingIfNeeded: rawValue >> 16) }
    public var element: UInt16 { UInt16(truncatingIfNeeded: rawValue) }

    /// Odd groups are private (PS3.5 §7.8); groups 1, 3, 5, 7 and FFFF are not allowed at all.
    public var isPrivate: Bool { group & 1 == 1 }
    /// (gggg,0010-00FF) in a private group reserves a block for a private creator.
    public var isPrivateCreator: Bool { isPrivate && element >= 0x10 && element <= 0xFF }
    /// The private creator element that owns this private tag's block, e.g. (0029,1010) → (0029,0010).
    public var privateCreatorTag: Tag? {
        guard isPrivate, element > 0xFF else { return nil }
        return Tag(group, element >> 8)
    }
    public var isGroupLength: Bool { element == 0 }

    /// `(0010,0010)`, as dcmdump writes tags.
    public var description: String { "(\(hex4(group)),\(hex4(element)))" }
    /// `00100010`, as DICOM JSON writes tags.
    public var hexString: String {
        String(unsafeUninitializedCapacity: 8) { buffer in
            for i in 0..<8 {
                let nibble = UInt8(truncatingIfNeeded: rawValue >> UInt32(28 - 4 * i)) & 0xF
                buffer[i] = nibble < 10 ? 0x30 + nibble : 0x37 + nibble
            }
            return 8
        }
    }

    public static func < (a: Tag, b: Tag) -> Bool { a.rawValue < b.rawValue }

    /// Pixel Data (7FE0,0010), Float Pixel Data (7FE0,0008), Double Float Pixel Data (7FE0,0009).
    public var isPixelData: Bool { self == .pixelData || self == .floatPixelData || self == .doubleFloatPixelData }

    /// Parses `(gggg,eeee)`, `gggg,eeee`, `ggggeeee` or a dictionary keyword.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: " ")
        var hex = Substring(trimmed)
        if hex.hasPrefix("("), hex.hasSuffix(")") { hex = hex.dropFirst().dropLast() }
        let digits = hex.filter { $0 != "," }
        let commaOK = hex.count == 8 || (hex.count == 9 && hex[hex.index(hex.startIndex, offsetBy: 4)] == ",")
        if commaOK, digits.count == 8, let value = UInt32(digits, radix: 16) {
            self.init(rawValue: value)
            return
        }
        guard let entry = DataDictionary.entry(keyword: trimmed) else { return nil }
        self = entry.tag
    }
}

extension Tag {
    public static let item = Tag(0xFFFE, 0xE000)
    public static let itemDelimitation = Tag(0xFFFE, 0xE00D)
    public static let sequenceDelimitation = Tag(0xFFFE, 0xE0DD)

    public static let fileMetaInformationGroupLength = Tag(0x0002, 0x0000)
    public static let fileMetaInformationVersion = Tag(0x0002, 0x0001)
    public static let mediaStorageSOPClassUID = Tag(0x0002, 0x0002)
    public static let mediaStorageSOPInstanceUID = Tag(0x0002, 0x0003)
    public static let transferSyntaxUID = Tag(0x0002, 0x0010)
    public static let implementationClassUID = Tag(0x0002, 0x0012)
    public static let implementationVersionName = Tag(0x0002, 0x0013)
    public static let specificCharacterSet = Tag(0x0008, 0x0005)
    public static let sopClassUID = Tag(0x0008, 0x0016)
    public static let sopInstanceUID = Tag(0x0008, 0x0018)
    public static let studyInstanceUID = Tag(0x0020, 0x000D)
    public static let seriesInstanceUID = Tag(0x0020, 0x000E)
    public static let samplesPerPixel = Tag(0x0028, 0x0002)
    public static let numberOfFrames = Tag(0x0028, 0x0008)
    public static let rows = Tag(0x0028, 0x0010)
    public static let columns = Tag(0x0028, 0x0011)
    public static let bitsAllocated = Tag(0x0028, 0x0100)
    public static let extendedOffsetTable = Tag(0x7FE0, 0x0001)
    public static let extendedOffsetTableLengths = Tag(0x7FE0, 0x0002)
    public static let floatPixelData = Tag(0x7FE0, 0x0008)
    public static let doubleFloatPixelData = Tag(0x7FE0, 0x0009)
    public static let pixelData = Tag(0x7FE0, 0x0010)
}

@inline(__always)
func hex4(_ value: UInt16) -> String {
    String(unsafeUninitializedCapacity: 4) { buffer in
        for i in 0..<4 {
            let nibble = UInt8(truncatingIfNeeded: value >> UInt16(12 - 4 * i)) & 0xF
            buffer[i] = nibble < 10 ? 0x30 + nibble : 0x37 + nibble
        }
        return 4
    }
}

extension StringProtocol {
    /// The text without `set` at either end (DICOM pads with spaces; no Foundation needed).
    public func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}
