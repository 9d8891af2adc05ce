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

    /// A DT value padded to YYYYMMDDHHMMSS.FFFFFF, so that text order is time order. `upper`
    /// pads with the last instant of the given precision. A value with a UTC offset, its own
    /// `&ZZXX` suffix or else `defaultOffset` (the data set's TimezoneOffsetFromUTC), is
    /// converted to UTC (PS3.4 C.2.2.2.5.3 d, C.2.2.2.5.4); one with neither is padded as
    /// written. A malformed suffix is dropped and the value kept as written.
    public static func dateTime(_ value: String, upper: Bool = false, defaultOffset: String? = nil) -> String? {
        var text = value.trimmingCharacters(in: " ")
        var offset: Int?
        if let zone = text.firstIndex(where: { $0 == "+" || $0 == "-" }) {
            offset = utcOffsetMinutes(text[zone...])
            text = String(text[..<zone])
        } else if let defaultOffset {
            offset = utcOffsetMinutes(Substring(defaultOffset.trimmingCharacters(in: " ")))
        }
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let main = String(parts[0])
        guard [4, 6, 8, 10, 12, 14].contains(main.count), main.allSatisfy(\.isASCIIDigit) else { return nil }
        let fraction = parts.count == 2 ? String(parts[1]) : ""
        guard fraction.count <= 6, fraction.allSatisfy(\.isASCIIDigit) else { return nil }
        let paddedFraction = "." + fraction + String(repeating: upper ? "9" : "0", count: 6 - fraction.count)
        if let offset, let utc = utcDateTime(main, upper: upper, offsetMinutes: offset) { return utc + paddedFraction }
        let low = "00000101000000", high = "99991231235959"
        let template = upper ? high : low
        var padded = main + template.dropFirst(main.count)
        if upper, main.count == 6 { padded = main + "31235959" }  // any month end sorts below 32
        return padded + paddedFraction
    }

    /// Minutes east of UTC of an `&ZZXX` offset (-1200 to +1400); nil when malformed.
    public static func utcOffsetMinutes(_ zone: Substring) -> Int? {
        let bytes = Array(zone.utf8)
        guard bytes.count == 5, bytes[0] == UInt8(ascii: "+") || bytes[0] == UInt8(ascii: "-") else { return nil }
        var digits: [Int] = []
        for byte in bytes[1...] {
            let digit = Int(byte) - 48
            guard (0...9).contains(digit) else { return nil }
            digits.append(digit)
        }
        let hours = digits[0] * 10 + digits[1], minutes = digits[2] * 10 + digits[3]
        guard hours <= 14, minutes < 60 else { return nil }
        return (bytes[0] == UInt8(ascii: "-") ? -1 : 1) * (hours * 60 + minutes)
    }

    /// YYYYMMDDHHMMSS in UTC of the local date-time `digits` (4, 6, … 14 ASCII digits; missing
    /// parts are the first or, `upper`, the last of their range, months ending on their real last
    /// day) at `offsetMinutes` east of UTC. Seconds stay as they are (offsets are whole minutes).
    /// nil for other digits or a part out of range (month 13, 25 o'clock, 30 February): callers
    /// keep such values as written. Years before 0000 or after 9999 are clamped to the ends of
    /// the padded range.
    static func utcDateTime(_ digits: String, upper: Bool, offsetMinutes: Int) -> String? {
        let d = digits.utf8.map { Int($0) - 48 }
        guard [4, 6, 8, 10, 12, 14].contains(d.count), d.allSatisfy({ (0...9).contains($0) }) else { return nil }
        func part(_ at: Int, _ missing: Int) -> Int { d.count > at ? d[at] * 10 + d[at + 1] : missing }
        var year = d[0] * 1000 + d[1] * 100 + d[2] * 10 + d[3]
        var month = part(4, upper ? 12 : 1)
        guard (1...12).contains(month) else { return nil }
        var day = part(6, upper ? daysIn(month, of: year) : 1)
        let hour = part(8, upper ? 23 : 0), minute = part(10, upper ? 59 : 0), second = part(12, upper ? 59 : 0)
        guard (1...daysIn(month, of: year)).contains(day), hour < 24, minute < 60, second <= 60 else { return nil }
        // |offset| is under a day: at most one day's carry, into the month and year.
        var minuteOfDay = hour * 60 + minute - offsetMinutes
        if minuteOfDay < 0 {
            minuteOfDay += 1440
            day -= 1
            if day == 0 {
                month -= 1
                if month == 0 { month = 12; year -= 1 }
                day = daysIn(month, of: year)
            }
        } else if minuteOfDay >= 1440 {
            minuteOfDay -= 1440
            day += 1
            if day > daysIn(month, of: year) {
                day = 1
                month += 1
                if month == 13 { month = 1; year += 1 }
            }
        }
        if year < 0 { return "00000101000000" }
        if year > 9999 { return "99991231235959" }
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let yearText = String(year)
        return String(repeating: "0", count: 4 - yearText.count) + yearText + two(month) + two(day)
            + two(minuteOfDay / 60) + two(minuteOfDay % 60) + two(second)
    }

    static func daysIn(_ month: Int, of year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}
