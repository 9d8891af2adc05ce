/// The two date forms the servers send, read without Foundation's (locale-dependent, slow)
/// formatters: HTTP's IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, Last-Modified) and
/// ISO 8601 UTC (`2009-10-12T17:50:30.000Z`, ListObjectsV2's LastModified).
enum HTTPDates {
    /// Nanoseconds since 1970 of an IMF-fixdate, nil when it is not one.
    static func parseHTTPDate(_ text: String) -> Int64? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", let day = Int64(parts[1]), let year = Int64(parts[3]) else { return nil }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let month = months.firstIndex(of: String(parts[2])) else { return nil }
        let time = parts[4].split(separator: ":").compactMap { Int64($0) }
        guard time.count == 3 else { return nil }
        return nanoseconds(year, Int64(month + 1), day, time[0], time[1], time[2], 0)
    }

    /// Nanoseconds since 1970 of `YYYY-MM-DDTHH:MM:SS[.fff]Z`, nil when it is not one.
    static func parseISO8601(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.last == UInt8(ascii: "Z"), bytes[4] == UInt8(ascii: "-"),
              bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"),
              bytes[16] == UInt8(ascii: ":") else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for i in range {
                guard bytes[i] >= 0x30, bytes[i] <= 0x39 else { return nil }
                value = value * 10 + Int64(bytes[i] - 0x30)
            }
            return value
        }
        guard let y = number(0..<4), let mo = number(5..<7), let d = number(8..<10), let h = number(11..<13),
              let mi = number(14..<16), let s = number(17..<19) else { return nil }
        var fraction: Int64 = 0
        if bytes[19] == UInt8(ascii: ".") {
            let digits = 20..<(bytes.count - 1)
            guard !digits.isEmpty, digits.count <= 9, let f = number(digits) else { return nil }
            fraction = f
            for _ in digits.count..<9 { fraction *= 10 }
        } else if bytes.count != 20 {
            return nil
        }
        return nanoseconds(y, mo, d, h, mi, s, fraction)
    }

    private static func nanoseconds(_ y: Int64, _ mo: Int64, _ d: Int64, _ h: Int64, _ mi: Int64, _ s: Int64,
                                    _ fraction: Int64) -> Int64? {
        guard (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s <= 60 else { return nil }
        let seconds = daysSinceEpoch(year: y, month: mo, day: d) * 86400 + h * 3600 + mi * 60 + s
        return seconds * 1_000_000_000 + fraction
    }
}
