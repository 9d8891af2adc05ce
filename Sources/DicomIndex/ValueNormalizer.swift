import DicomCore

/// The forms of values the index matches on: lowercased name groups, times in seconds,
/// date-times padded to a fixed width. Used for stored values and query values alike.
public enum ValueNormalizer {
    /// Lowercased Alphabetic, Ideographic and Phonetic groups of one PN value (several values:
    /// each group of each value, joined by backslash).
    public static func nameGroups(_ value: String) -> [String] {
        if let ascii = asciiNameGroups(value) { return ascii }
        var groups = ["", "", ""]
        for (v, single) in value.split(separator: "\\", omittingEmptySubsequences: false).enumerated() {
            for (i, group) in single.split(separator: "=", omittingEmptySubsequences: false).prefix(3).enumerated() {
                groups[i] += (v > 0 ? "\\" : "") + fold(group)
            }
        }
        return groups
    }

    /// nameGroups on bytes for ASCII names (most names): the same result without Unicode
    /// lowercasing and without a String per piece. nil when the value is not ASCII.
    private static func asciiNameGroups(_ value: String) -> [String]? {
        guard value.utf8.allSatisfy({ $0 < 0x80 }) else { return nil }
        if !value.utf8.contains(UInt8(ascii: "=")) {
            // Alphabetic only (most names): one lowercased copy.
            return [String(decoding: value.utf8.map(lowercaseASCII), as: UTF8.self), "", ""]
        }
        var groups: [[UInt8]] = [[], [], []]
        var valueIndex = 0, group = 0
        for byte in value.utf8 {
            guard byte < 0x80 else { return nil }
            switch byte {
            case UInt8(ascii: "\\"):
                valueIndex += 1
                group = 0
                groups[0].append(byte)
            case UInt8(ascii: "="):
                // A later value adds its separator only to the groups it has.
                group += 1
                if group < 3, valueIndex > 0 { groups[group].append(UInt8(ascii: "\\")) }
            default:
                if group < 3 { groups[group].append(lowercaseASCII(byte)) }
            }
        }
        return groups.map { String(decoding: $0, as: UTF8.self) }
    }

    /// The form names are compared in: Unicode lowercase, then NFC, so that `Šimková` typed
    /// with combining marks (NFD, as some keyboards and macOS file names give it) equals the
    /// precomposed one. (`_nfcCodeUnits` is the standard library's own normalizer; DicomIndex
    /// does not import Foundation.)
    public static func fold<S: StringProtocol>(_ text: S) -> String {
        let lowered = text.lowercased()
        if lowered.utf8.allSatisfy({ $0 < 0x80 }) { return lowered }
        return String(decoding: lowered._nfcCodeUnits, as: UTF8.self)
    }

    @inline(__always)
    private static func lowercaseASCII(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }

    /// " comp comp … ": every name component, lowercased, for fuzzy (start of a component) matching.
    public static func fuzzyComponents(_ value: String) -> String {
        if value.utf8.allSatisfy({ $0 < 0x80 }) {
            var out: [UInt8] = [0x20]
            out.reserveCapacity(value.utf8.count + 2)
            var inComponent = false, any = false
            for byte in value.utf8 {
                switch byte {
                case UInt8(ascii: "^"), UInt8(ascii: "="), 0x20, UInt8(ascii: "\\"):
                    inComponent = false
                default:
                    if !inComponent {
                        if any { out.append(0x20) }
                        inComponent = true
                        any = true
                    }
                    out.append(lowercaseASCII(byte))
                }
            }
            out.append(0x20)
            return String(decoding: out, as: UTF8.self)
        }
        let components = fold(value).split(whereSeparator: { $0 == "^" || $0 == "=" || $0 == " " || $0 == "\\" })
        return " " + components.joined(separator: " ") + " "
    }

    /// Seconds since midnight of a TM value (HH, HHMM, HHMMSS, HHMMSS.F…, also HH:MM:SS).
    /// `upper` gives the last instant the value's precision covers (for range ends). Read as
    /// bytes: the indexer runs this for every time of every instance.
    public static func seconds(_ time: String, upper: Bool = false) -> Double? {
        var time = time
        return time.withUTF8 { bytes in
            guard bytes.contains(UInt8(ascii: ":")) else { return seconds(bytes, upper: upper) }
            return bytes.filter { $0 != UInt8(ascii: ":") }.withUnsafeBufferPointer { seconds($0, upper: upper) }
        }
    }

    private static func seconds(_ bytes: UnsafeBufferPointer<UInt8>, upper: Bool) -> Double? {
        var start = 0, end = bytes.count
        while start < end, bytes[start] == 0x20 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 { end -= 1 }
        let dot = bytes[start..<end].firstIndex(of: UInt8(ascii: ".")) ?? end
        guard [2, 4, 6].contains(dot - start) else { return nil }
        /// The ASCII digits in `range` as a number; nil for anything else.
        func number(_ range: Range<Int>) -> Int? {
            var n = 0
            for i in range {
                let digit = bytes[i] &- UInt8(ascii: "0")
                guard digit < 10 else { return nil }
                n = n * 10 + Int(digit)
            }
            return n
        }
        guard let whole = number(start..<dot) else { return nil }
        let count = dot - start
        let h = count == 2 ? whole : count == 4 ? whole / 100 : whole / 10_000
        let m = count == 2 ? (upper ? 59 : 0) : count == 4 ? whole % 100 : whole / 100 % 100
        let s = count == 6 ? whole % 100 : (upper ? 59 : 0)
        guard h < 24, m < 60, s < 61 else { return nil }
        var fraction = 0.0
        if dot < end {
            let digits = end - dot - 1
            guard digits >= 1, digits <= 6, let f = number(dot + 1..<end) else { return nil }
            // An integer over a power of ten is the correctly rounded value of "0.f", as a
            // decimal parse would give.
            fraction = Double(f) / pow10(digits)
            if upper { fraction += 1 / pow10(digits) - 0.000001 }
        } else if upper {
            fraction = 0.999999  // the last instant of the given precision
        }
        return Double(h * 3600 + m * 60 + s) + fraction
    }

    private static func pow10(_ e: Int) -> Double { (0..<e).reduce(1.0) { acc, _ in acc * 10 } }

    /// YYYYMMDD from a DA value (also the old YYYY.MM.DD form); nil when malformed.
    public static func date(_ value: String) -> String? {
        // Bytes, not Characters: ASCII digits only (Unicode digits such as '２' are not DA), and
        // a search plans several of these.
        var digits: [UInt8] = []
        digits.reserveCapacity(8)
        var bytes = Substring(value).utf8[...]
        while bytes.first == 0x20 { bytes.removeFirst() }
        while bytes.last == 0x20 { bytes.removeLast() }
        for byte in bytes where byte != UInt8(ascii: ".") {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), digits.count < 8 else { return nil }
            digits.append(byte)
        }
        return digits.count == 8 ? String(decoding: digits, as: UTF8.self) : nil
    }

    /// A DT value padded to YYYYMMDDHHMMSS.FFFFFF (timezone suffix dropped), so that text order
    /// is time order. `upper` pads with the last instant of the given precision.
    public static func dateTime(_ value: String, upper: Bool = false) -> String? {
        var text = value.trimmingCharacters(in: " ")
        if let zone = text.firstIndex(where: { $0 == "+" || $0 == "-" }) { text = String(text[..<zone]) }
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let main = String(parts[0])
        guard [4, 6, 8, 10, 12, 14].contains(main.count), main.allSatisfy(\.isNumber) else { return nil }
        let low = "00000101000000", high = "99991231235959"
        let template = upper ? high : low
        var padded = main + template.dropFirst(main.count)
        if upper, main.count == 6 { padded = main + "31235959" }  // any month end sorts below 32
        let fraction = parts.count == 2 ? String(parts[1]) : ""
        guard fraction.count <= 6, fraction.allSatisfy(\.isNumber) else { return nil }
        return padded + "." + fraction + String(repeating: upper ? "9" : "0", count: 6 - fraction.count)
    }
}
