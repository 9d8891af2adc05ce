import DicomCore

/// The forms of values the index matches on: lowercased name groups, times in seconds,
/// date-times padded to a fixed width. Used for stored values and query values alike.
public enum ValueNormalizer {
    /// Lowercased Alphabetic, Ideographic and Phonetic groups of one PN value (several values:
    /// each group of each value, joined by backslash).
    public static func nameGroups(_ value: String) -> [String] {
        var groups = ["", "", ""]
        for (v, single) in value.split(separator: "\\", omittingEmptySubsequences: false).enumerated() {
            for (i, group) in single.split(separator: "=", omittingEmptySubsequences: false).prefix(3).enumerated() {
                groups[i] += (v > 0 ? "\\" : "") + group.lowercased()
            }
        }
        return groups
    }

    /// " comp comp … ": every name component, lowercased, for fuzzy (start of a component) matching.
    public static func fuzzyComponents(_ value: String) -> String {
        let components = value.lowercased().split(whereSeparator: { $0 == "^" || $0 == "=" || $0 == " " || $0 == "\\" })
        return " " + components.joined(separator: " ") + " "
    }

    /// Seconds since midnight of a TM value (HH, HHMM, HHMMSS, HHMMSS.F…, also HH:MM:SS).
    /// `upper` gives the last instant the value's precision covers (for range ends).
    public static func seconds(_ time: String, upper: Bool = false) -> Double? {
        let text = time.filter { $0 != ":" }.trimmingCharacters(in: " ")
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let digits = Array(parts[0])
        guard [2, 4, 6].contains(digits.count), digits.allSatisfy(\.isNumber) else { return nil }
        func number(_ r: Range<Int>) -> Double { Double(String(digits[r]))! }
        let h = number(0..<2)
        let m = digits.count >= 4 ? number(2..<4) : (upper ? 59 : 0)
        let s = digits.count >= 6 ? number(4..<6) : (upper ? 59 : 0)
        guard h < 24, m < 60, s < 61 else { return nil }
        var fraction = 0.0
        if parts.count == 2 {
            let f = String(parts[1])
            guard !f.isEmpty, f.count <= 6, f.allSatisfy(\.isNumber), let value = Double("0." + f) else { return nil }
            fraction = value
            if upper { fraction += pow10(-f.count) - 0.000001 }
        } else if upper {
            fraction = 0.999999  // the last instant of the given precision
        }
        return h * 3600 + m * 60 + s + fraction
    }

    private static func pow10(_ e: Int) -> Double { (0..<(-e)).reduce(1.0) { acc, _ in acc / 10 } }

    /// YYYYMMDD from a DA value (also the old YYYY.MM.DD form); nil when malformed.
    public static func date(_ value: String) -> String? {
        let digits = value.filter { $0 != "." }.trimmingCharacters(in: " ")
        guard digits.count == 8, digits.allSatisfy(\.isNumber) else { return nil }
        return digits
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
