import Synchronization

/// An ordered collection of data elements (ascending tag order, one element per tag), with the
/// context needed to interpret their bytes: byte order and the inherited character set.
public struct DataSet: Sendable {
    public private(set) var elements: [DataElement] = []
    /// Binary values in `.bytes` are big endian (Explicit VR Big Endian data sets).
    public var isBigEndian: Bool
    /// The character set of this data set's text: its own (0008,0005), else its parent's.
    public var characterSet: SpecificCharacterSet

    public init(elements: [DataElement] = [], isBigEndian: Bool = false, characterSet: SpecificCharacterSet = .default) {
        self.isBigEndian = isBigEndian
        self.characterSet = characterSet
        for element in elements { set(element) }
    }

    public var isEmpty: Bool { elements.isEmpty }

    public mutating func reserveCapacity(_ count: Int) { elements.reserveCapacity(count) }
    public var count: Int { elements.count }

    private func index(of tag: Tag) -> (found: Bool, index: Int) {
        elements.withUnsafeBufferPointer { elements in
            var low = 0, high = elements.count
            while low < high {
                let mid = (low + high) / 2
                let t = elements[mid].tag
                if t == tag { return (true, mid) }
                if t < tag { low = mid + 1 } else { high = mid }
            }
            return (false, low)
        }
    }

    public subscript(tag: Tag) -> DataElement? {
        let (found, i) = index(of: tag)
        return found ? elements[i] : nil
    }

    /// Adds or replaces the element with the same tag (a later duplicate wins, as in pydicom).
    /// Setting Specific Character Set (0008,0005) sets `characterSet`.
    /// Elements of a parsed data set arrive in tag order: they are appended, without a search
    /// and without a copy of the element (`consuming`: the caller's value moves in).
    public mutating func set(_ element: consuming DataElement) {
        let tag = element.tag
        if tag == .specificCharacterSet { characterSet = CharacterSetMemo.characterSet(of: element) }
        if elements.isEmpty || elements[elements.count - 1].tag < tag {
            elements.append(element)
            return
        }
        let (found, i) = index(of: tag)
        if found { elements[i] = element } else { elements.insert(element, at: i) }
    }

    @discardableResult
    public mutating func remove(_ tag: Tag) -> DataElement? {
        let (found, i) = index(of: tag)
        return found ? elements.remove(at: i) : nil
    }

    // MARK: Typed values

    /// The text values of a string element: character set applied, split at backslashes (except
    /// LT, ST, UT, UR), trailing spaces and NULs removed.
    public func strings(_ tag: Tag) -> [String]? {
        guard let element = self[tag] else { return nil }
        return element.strings(characterSet: characterSet)
    }

    public func string(_ tag: Tag) -> String? {
        guard let element = self[tag] else { return nil }
        return element.firstString(characterSet: characterSet)
    }

    /// Integers of binary (US SS UL SL SV UV) or text (IS) elements.
    public func ints(_ tag: Tag) -> [Int]? {
        guard let element = self[tag] else { return nil }
        return element.ints(bigEndian: isBigEndian)
    }

    public func int(_ tag: Tag) -> Int? {
        guard let element = self[tag] else { return nil }
        // One binary number (most integer attributes) is read in place, without the array.
        if let bytes = element.bytes {
            switch element.vr {
            case .US where bytes.count >= 2, .SS where bytes.count >= 2:
                let raw = isBigEndian ? UInt16(bytes[0]) << 8 | UInt16(bytes[1]) : UInt16(bytes[1]) << 8 | UInt16(bytes[0])
                return element.vr == .US ? Int(raw) : Int(Int16(bitPattern: raw))
            case .UL where bytes.count >= 4, .SL where bytes.count >= 4:
                var raw: UInt32 = 0
                for i in 0..<4 { raw |= UInt32(bytes[isBigEndian ? 3 - i : i]) << (8 * i) }
                return element.vr == .UL ? Int(raw) : Int(Int32(bitPattern: raw))
            default:
                break
            }
        }
        return element.ints(bigEndian: isBigEndian)?.first
    }

    /// Reals of binary (FL FD) or text (DS, IS) elements.
    public func doubles(_ tag: Tag) -> [Double]? {
        guard let element = self[tag] else { return nil }
        return element.doubles(bigEndian: isBigEndian)
    }

    public func double(_ tag: Tag) -> Double? { doubles(tag)?.first }
}

/// (0008,0005) as a character set. The files of an archive mostly share one value and building
/// the set costs about 5,000 instructions, so the last one built is kept, keyed by VR and bytes.
private enum CharacterSetMemo {
    private struct Entry: Sendable {
        var vr: VR
        var bytes: [UInt8]
        var characterSet: SpecificCharacterSet
    }

    private static let last = Mutex<Entry?>(nil)

    static func characterSet(of element: DataElement) -> SpecificCharacterSet {
        guard let bytes = element.bytes else { return build(element) }
        let vr = element.vr
        if let hit = last.withLock({ entry in entry.flatMap { $0.vr == vr && $0.bytes == bytes ? $0.characterSet : nil } }) {
            return hit
        }
        let built = build(element)
        last.withLock { $0 = Entry(vr: vr, bytes: bytes, characterSet: built) }
        return built
    }

    private static func build(_ element: DataElement) -> SpecificCharacterSet {
        SpecificCharacterSet(terms: (element.strings(characterSet: .default) ?? []).map { $0.trimmingCharacters(in: " ") })
    }
}

extension DataElement {
    public func strings(characterSet: SpecificCharacterSet) -> [String]? {
        guard vr.isString, let bytes = self.bytes else { return nil }
        if bytes.isEmpty { return [] }
        // Fast path: plain ASCII (no escape sequences) needs no character set and splits at the
        // backslash byte; most values of most files are this.
        if !bytes.contains(where: { $0 >= 0x80 || $0 == 0x1B }) {
            if vr.isSingleValuedText { return [trimmedValue(bytes[...])] }
            return bytes.split(separator: 0x5C, omittingEmptySubsequences: false).map { trimmedValue($0) }
        }
        let text = characterSet.decode(bytes[...], vr: vr)
        let values: [Substring] = vr.isSingleValuedText
            ? [Substring(text)]
            : text.split(separator: "\\", omittingEmptySubsequences: false)
        return values.map { value in
            var v = value
            while let last = v.last, last == " " || last == "\0" { v = v.dropLast() }
            // Leading spaces are kept except where they cannot be meant (as pydicom does).
            if vr == .AE || vr == .DS || vr == .IS {
                while v.first == " " { v = v.dropFirst() }
            }
            return String(v)
        }
    }

    /// `strings(characterSet:)?.first` without the other values: for plain ASCII only the
    /// bytes before the first backslash become a String.
    public func firstString(characterSet: SpecificCharacterSet) -> String? {
        guard vr.isString, let bytes = self.bytes else { return nil }
        if bytes.isEmpty { return nil }
        if bytes.contains(where: { $0 >= 0x80 || $0 == 0x1B }) { return strings(characterSet: characterSet)?.first }
        if vr.isSingleValuedText { return trimmedValue(bytes[...]) }
        let end = bytes.firstIndex(of: 0x5C) ?? bytes.endIndex
        return trimmedValue(bytes[..<end])
    }

    /// One ASCII value with the same trimming as above, on bytes.
    private func trimmedValue(_ bytes: ArraySlice<UInt8>) -> String {
        var value = bytes
        while let last = value.last, last == 0x20 || last == 0 { value = value.dropLast() }
        if vr == .AE || vr == .DS || vr == .IS {
            while value.first == 0x20 { value = value.dropFirst() }
        }
        return String(decoding: value, as: UTF8.self)
    }

    public func ints(bigEndian: Bool) -> [Int]? {
        switch vr {
        case .IS:
            return strings(characterSet: .default)?.compactMap { Int($0) }
        case .DS:
            return strings(characterSet: .default)?.compactMap { Double($0) }.compactMap { $0.isFinite ? Int(exactly: $0.rounded()) : nil }
        case .US, .SS, .UL, .SL, .SV, .UV, .AT:
            guard let bytes = self.bytes else { return nil }
            return BinaryValues.integers(bytes[...], vr: vr, bigEndian: bigEndian)
        default:
            return nil
        }
    }

    public func doubles(bigEndian: Bool) -> [Double]? {
        switch vr {
        case .DS, .IS:
            return strings(characterSet: .default)?.compactMap { Double($0) }
        case .FL, .FD, .OF, .OD:
            guard let bytes = self.bytes else { return nil }
            return BinaryValues.reals(bytes[...], vr: vr, bigEndian: bigEndian)
        default:
            return ints(bigEndian: bigEndian)?.map(Double.init)
        }
    }
}

/// Decoding of binary numeric values; partial trailing bytes are ignored.
public enum BinaryValues {
    @inline(__always)
    static func load(_ bytes: ArraySlice<UInt8>, at offset: Int, width: Int, bigEndian: Bool) -> UInt64 {
        var value: UInt64 = 0
        let base = bytes.startIndex + offset
        if bigEndian {
            for i in 0..<width { value = value << 8 | UInt64(bytes[base + i]) }
        } else {
            for i in stride(from: width - 1, through: 0, by: -1) { value = value << 8 | UInt64(bytes[base + i]) }
        }
        return value
    }

    public static func integers(_ bytes: ArraySlice<UInt8>, vr: VR, bigEndian: Bool) -> [Int] {
        if vr == .AT {
            // A tag is two 16-bit numbers, each in the data set's byte order.
            return stride(from: 0, to: bytes.count - 3, by: 4).map { i in
                Int(load(bytes, at: i, width: 2, bigEndian: bigEndian) << 16 | load(bytes, at: i + 2, width: 2, bigEndian: bigEndian))
            }
        }
        let width = vr.numericWidth
        guard width > 0 else { return [] }
        return stride(from: 0, to: bytes.count - width + 1, by: width).map { i in
            let raw = load(bytes, at: i, width: width, bigEndian: bigEndian)
            switch vr {
            case .SS: return Int(Int16(truncatingIfNeeded: raw))
            case .SL: return Int(Int32(truncatingIfNeeded: raw))
            case .SV: return Int(Int64(bitPattern: raw))
            case .UV: return Int(truncatingIfNeeded: raw)  // values ≥ 2^63 wrap; see unsignedIntegers
            default: return Int(raw)
            }
        }
    }

    /// UV values as unsigned (JSON and text output need the full 64-bit range).
    public static func unsignedIntegers(_ bytes: ArraySlice<UInt8>, bigEndian: Bool) -> [UInt64] {
        stride(from: 0, to: bytes.count - 7, by: 8).map { load(bytes, at: $0, width: 8, bigEndian: bigEndian) }
    }

    public static func reals(_ bytes: ArraySlice<UInt8>, vr: VR, bigEndian: Bool) -> [Double] {
        let width = vr == .FL || vr == .OF ? 4 : 8
        return stride(from: 0, to: bytes.count - width + 1, by: width).map { i in
            let raw = load(bytes, at: i, width: width, bigEndian: bigEndian)
            return width == 4 ? Double(Float(bitPattern: UInt32(truncatingIfNeeded: raw))) : Double(bitPattern: raw)
        }
    }
}
