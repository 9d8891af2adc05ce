import DicomCore

/// A query value the index cannot match; the planner adds which key it concerns.
struct MatchError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// The matching rules of PS3.4 C.2.2.2 as SQL over the index's columns. Values are always bound
/// parameters; column names come from the attribute registry only.
enum Matching {
    /// Empty or only `*`: every entity matches, with or without a value (C.2.2.2.3).
    ///
    /// These helpers read UTF-8 bytes rather than Characters: `*`, `?`, `[`, `\\` and `=` are
    /// ASCII and never part of a multi-byte sequence, and grapheme breaking made planning a
    /// name search cost more than running it.
    static func isUniversal<S: StringProtocol>(_ value: S) -> Bool { value.utf8.allSatisfy { $0 == UInt8(ascii: "*") } }

    /// The values of a backslash-separated list, empty ones dropped.
    static func alternatives(_ value: String) -> [String] {
        guard value.utf8.contains(UInt8(ascii: "\\")) else { return value.isEmpty ? [] : [value] }
        return value.utf8.split(separator: UInt8(ascii: "\\")).map { String(Substring($0)) }
    }

    static func hasWildcard(_ value: String) -> Bool {
        value.utf8.contains { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") }
    }

    /// GLOB pattern of a query value: `*` and `?` stay wildcards, `[` (the only other GLOB
    /// metacharacter outside a class) matches itself. LIKE's `%` and `_` are ordinary here.
    static func globPattern(_ value: String) -> String {
        guard value.utf8.contains(UInt8(ascii: "[")) else { return value }
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count + 8)
        for byte in value.utf8 {
            if byte == UInt8(ascii: "[") { out += Array("[[]".utf8) } else { out.append(byte) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// GLOB pattern matching `value` literally.
    static func globLiteral(_ value: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count + 8)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "["), UInt8(ascii: "*"), UInt8(ascii: "?"): out += [UInt8(ascii: "["), byte, UInt8(ascii: "]")]
            default: out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: Per key

    static func condition(for key: SearchKey, value: String, fuzzy: Bool) throws -> Condition? {
        guard !isUniversal(value), let expression = key.expression else { return nil }
        let fragment: SQLFragment?
        var indexed = false, unique = false
        switch key.source {
        case .column(let a):
            switch a.match {
            case .text:
                fragment = text(expression, value, multiValued: key.isMultiValued)
                indexed = Self.indexedColumns.contains(a.column) && !hasWildcard(value)
            case .personName:
                guard let columns = key.nameColumns else { return nil }
                fragment = personName(columns, value, multiValued: key.isMultiValued, fuzzy: fuzzy)
            case .date:
                fragment = try date(expression, value)
                indexed = Self.indexedColumns.contains(a.column)
            case .time: fragment = try time(expression + "_sec", value)
            case .dateTime: fragment = try dateTime(expression + "_norm", value)
            case .uid:
                fragment = uid(expression, value, multiValued: key.isMultiValued)
                indexed = Self.indexedColumns.contains(a.column)
                unique = [.studyInstanceUID, .seriesInstanceUID, .sopInstanceUID].contains(a.tag)
            case .integer: fragment = try integer(expression, value)
            case .none: fragment = nil
            }
        case .sopClassesInStudy, .availableTransferSyntax:
            fragment = uid(expression, value, multiValued: key.isMultiValued)
        default:
            fragment = nil
        }
        return fragment.map { Condition(fragment: $0, level: key.level, isIndexed: indexed, isUnique: unique) }
    }

    /// Columns with an index of their own (IndexSchema.createStatements) that `=`, IN and
    /// ranges can use.
    static let indexedColumns: Set<String> = ["study_uid", "study_date", "patient_id", "accession_number",
                                              "series_uid", "modality", "sop_uid"]

    // MARK: Text (C.2.2.2.1 single value, C.2.2.2.4 wildcards)

    /// Case-sensitive single value or wildcard matching; a backslash list matches any of its
    /// values. A multi-valued stored value matches when one of its values does.
    static func text(_ expression: String, _ value: String, multiValued: Bool) -> SQLFragment? {
        let values = alternatives(value)
        guard !values.isEmpty, !values.contains(where: isUniversal) else { return nil }
        var parts: [SQLFragment] = []
        let exact = values.filter { !hasWildcard($0) }
        if !multiValued, exact.count > 1 {
            parts.append(inList(expression, exact))
        } else {
            parts += exact.map { match(expression, $0, multiValued: multiValued) }
        }
        parts += values.filter(hasWildcard).map { match(expression, $0, multiValued: multiValued) }
        return SQLFragment.any(parts)
    }

    /// One value against a column: `=` or GLOB; for multi-valued columns, against each value.
    static func match(_ expression: String, _ value: String, multiValued: Bool) -> SQLFragment {
        match([expression], value, multiValued: multiValued)[0]
    }

    /// The same value against several columns (the groups of a person name): the pattern and
    /// its range are made once.
    static func match(_ expressions: [String], _ value: String, multiValued: Bool) -> [SQLFragment] {
        if hasWildcard(value) {
            let text = globPattern(value), pattern = SQLValue.text(text)
            guard multiValued else {
                // The literal prefix as an explicit range, so that an index on the column serves
                // `Doe*` (SQLite does not derive it from a bound pattern: see SQLiteDatabase).
                guard let range = prefixRange(value) else { return expressions.map { SQLFragment(.glob($0), [pattern]) } }
                let bindings: [SQLValue] = [.text(range.low), .text(range.high), pattern]
                return expressions.map { SQLFragment(.prefixGlob($0), bindings) }
            }
            // A value that matches is a substring of the joined values (cheap filter), then the
            // values are split and tried one by one.
            let bindings: [SQLValue] = [pattern, .text("*" + text + "*"), pattern]
            return expressions.map { SQLFragment(.anyValueGlob($0), bindings) }
        }
        guard multiValued else { return expressions.map { SQLFragment(.equal($0), [.text(value)]) } }
        return expressions.map { SQLFragment(.anyValueEqual($0), [.text("\\" + value + "\\")]) }
    }

    /// The strings that begin with the value's literal prefix (the text before its first `*` or
    /// `?`) lie in [prefix, prefix with its last character replaced by the next one): UTF-8
    /// byte order is code point order. nil without a prefix.
    static func prefixRange(_ value: String) -> (low: String, high: String)? {
        // ASCII prefix (the usual case): the next byte value, no scalar view. DEL (0x7F) goes the
        // long way: its successor is U+0080, two bytes in UTF-8.
        let bytes = value.utf8
        if let end = bytes.firstIndex(where: { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 >= 0x7F }),
           bytes[end] < 0x7F {
            guard end > bytes.startIndex else { return nil }
            let low = Array(bytes[..<end])
            var high = low
            high[high.count - 1] += 1  // below 0x7F, so still one ASCII byte
            return (String(decoding: low, as: UTF8.self), String(decoding: high, as: UTF8.self))
        }
        let prefix = value.unicodeScalars.prefix { $0 != "*" && $0 != "?" }
        guard let last = prefix.last else { return nil }
        let next = last.value == 0xD7FF ? 0xE000 : last.value + 1
        guard let scalar = Unicode.Scalar(next) else { return nil }
        var high = String.UnicodeScalarView(prefix.dropLast())
        high.append(scalar)
        return (String(String.UnicodeScalarView(prefix)), String(high))
    }

    static func inList(_ expression: String, _ values: [String]) -> SQLFragment {
        if values.count == 1 { return SQLFragment(.equal(expression), [.text(values[0])]) }
        return SQLFragment(.oneOf(expression, count: values.count), values.map { .text($0) })
    }

    // MARK: Person names

    /// Case-insensitive (Unicode lowercase and NFC, as the index stores the groups) on the Alphabetic,
    /// Ideographic or Phonetic group; a value with `=` matches group by group. Fuzzy: also
    /// the start of any name component. `columns`: SearchKey.nameColumns.
    static func personName(_ columns: (groups: [String], fuzzy: String), _ value: String, multiValued: Bool,
                           fuzzy: Bool) -> SQLFragment? {
        let values = alternatives(value)
        guard !values.isEmpty, !values.contains(where: isUniversal) else { return nil }
        var parts: [SQLFragment] = []
        for single in values {
            let lowered = ValueNormalizer.fold(single)
            if lowered.utf8.contains(UInt8(ascii: "=")) {
                let groups = lowered.utf8.split(separator: UInt8(ascii: "="), omittingEmptySubsequences: false).prefix(3)
                    .map { String(Substring($0)) }
                var terms: [SQLFragment] = []
                for (i, group) in groups.enumerated() where !isUniversal(group) {
                    terms.append(match(columns.groups[i], group, multiValued: multiValued))
                }
                guard let all = SQLFragment.all(terms) else { return nil }
                parts.append(all)
            } else {
                var terms = match(columns.groups, lowered, multiValued: multiValued)
                if fuzzy, let start = fuzzyStart(columns.fuzzy, lowered) { terms.append(start) }
                parts.append(SQLFragment.any(terms)!)
            }
        }
        return SQLFragment.any(parts)
    }

    /// `_fuzzy` holds " comp comp … ": the query's components (split at ^, = and spaces) must
    /// begin at a component boundary.
    static func fuzzyStart(_ column: String, _ lowered: String) -> SQLFragment? {
        let words = lowered.split(whereSeparator: { $0 == "^" || $0 == "=" || $0 == " " }).joined(separator: " ")
        guard !words.isEmpty else { return nil }
        let pattern = hasWildcard(words) ? globPattern(words) : globLiteral(words)
        return SQLFragment(.glob(column), [.text("* " + pattern + "*")])
    }

    // MARK: Dates and times (C.2.2.2.5 range matching)

    /// `A-B`, `-B`, `A-` or a single value, split at the one hyphen (DA and TM have none).
    static func range(_ value: String, what: String) throws -> (low: String?, high: String?) {
        let utf8 = value.utf8
        guard let hyphen = utf8.firstIndex(of: UInt8(ascii: "-")) else { return (value, value) }
        let afterHyphen = utf8.index(after: hyphen)
        guard !utf8[afterHyphen...].contains(UInt8(ascii: "-")) else {
            throw MatchError("not a \(what) or a range of them (A-B, -B, A-)")
        }
        let low = value[..<hyphen], high = value[afterHyphen...]
        guard !(low.isEmpty && high.isEmpty) else { throw MatchError("a range needs at least one end") }
        return (low.isEmpty ? nil : String(low), high.isEmpty ? nil : String(high))
    }

    /// `column BETWEEN low AND high` and the open forms.
    static func between(_ column: String, _ low: SQLValue?, _ high: SQLValue?) -> SQLFragment {
        switch (low, high) {
        case let (low?, high?) where low == high: return SQLFragment(.equal(column), [low])
        case let (low?, high?): return SQLFragment(.between(column), [low, high])
        case let (low?, nil): return SQLFragment(.atLeast(column), [low])
        case let (nil, high?): return SQLFragment(.atMost(column), [high])
        case (nil, nil): return SQLFragment(.always)
        }
    }

    /// DA: YYYYMMDD (the old YYYY.MM.DD too); ranges inclusive.
    static func date(_ column: String, _ value: String) throws -> SQLFragment {
        let (low, high) = try range(value, what: "date (YYYYMMDD)")
        func parse(_ text: String?) throws -> String? {
            guard let text else { return nil }
            guard let date = ValueNormalizer.date(text), isPlausibleDate(date) else {
                throw MatchError("'\(text)' is not a date (YYYYMMDD); ranges are A-B, -B, A-")
            }
            return date
        }
        let l = try parse(low), h = try parse(high)
        if let l, let h, l > h { throw MatchError("the range starts after it ends") }
        // An open start still skips empty values.
        return between(column, .text(l ?? "00000000"), h.map { .text($0) })
    }

    /// `digits`: eight ASCII digits (ValueNormalizer.date).
    static func isPlausibleDate(_ digits: String) -> Bool {
        let d = Array(digits.utf8)
        guard d.count == 8 else { return false }
        func number(_ i: Int) -> Int { Int(d[i] &- 48) * 10 + Int(d[i + 1] &- 48) }
        return (1...12).contains(number(4)) && (1...31).contains(number(6))
    }

    /// TM: seconds since midnight; an end of lower precision covers its whole interval
    /// (`-10` ends at 10:59:59.999999), and so does a single value. A range whose start lies
    /// after its end (`2200-0200`) spans midnight: the times from its start to the end of the
    /// day and from midnight to its end. PS3.4 C.2.2.2.5.2 defines only ranges with
    /// <time1> <= <time2> ("Range matching crossing midnight is not supported"); dwc reads the
    /// other order as dcm4chee-arc-light does rather than refuse it (docs/search.md).
    static func time(_ column: String, _ value: String) throws -> SQLFragment {
        let (low, high) = try range(value, what: "time (HHMMSS.FFFFFF)")
        let l = try low.map { try timeInterval($0).start }, h = try high.map { try timeInterval($0).end }
        switch (l, h) {
        case let (l?, h?) where l >= h:
            // Both ends are widened by the same half microsecond, so l >= h means no instant of
            // the start's interval lies before the end's: the range wraps.
            return SQLFragment(.outside(column), [.real(l), .real(h)])
        case let (l?, h?): return SQLFragment(.between(column), [.real(l), .real(h)])
        case let (l?, nil): return SQLFragment(.atLeast(column), [.real(l)])
        case let (nil, h?): return SQLFragment(.atMost(column), [.real(h)])
        case (nil, nil): return SQLFragment(.always)
        }
    }

    /// The seconds a TM value covers at its precision (HH: the hour, HHMM: the minute, HHMMSS:
    /// the second, fractions: their last digit), widened by half a microsecond, the finest
    /// step TM has, so stored values at either end compare inside despite rounding.
    static func timeInterval(_ text: String) throws -> (start: Double, end: Double) {
        guard let start = ValueNormalizer.seconds(text) else {
            throw MatchError("'\(text)' is not a time (HH, HHMM, HHMMSS, HHMMSS.FFFFFF); ranges are A-B, -B, A-")
        }
        let plain = text.filter { $0 != ":" }.trimmingCharacters(in: " ")
        let parts = plain.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        var width: Double
        switch parts[0].count {
        case 2: width = 3600
        case 4: width = 60
        default: width = 1
        }
        if parts.count == 2 { for _ in 0..<parts[1].count { width /= 10 } }
        return (start - 0.0000005, start + width - 0.0000005)
    }

    /// DT: compared on the padded form, in UTC for values with an offset (ValueNormalizer.dateTime);
    /// a single value covers the interval of its precision.
    static func dateTime(_ column: String, _ value: String) throws -> SQLFragment {
        let (low, high) = try dateTimeRange(value)
        let l = try low.map { try normalized($0, upper: false) }
        let h = try high.map { try normalized($0, upper: true) }
        if let l, let h, l > h { throw MatchError("the range starts after it ends") }
        switch (l, h) {
        case let (l?, h?): return SQLFragment(.between(column), [.text(l), .text(h)])
        case let (l?, nil): return SQLFragment(.atLeast(column), [.text(l)])
        case let (nil, h?): return SQLFragment(.atMost(column), [.text(h)])
        case (nil, nil): return SQLFragment(.always)
        }
    }

    static func normalized(_ text: String, upper: Bool) throws -> String {
        // Parts out of range (month 13, 24 o'clock) would be compared as written: refused instead.
        let digits = String(text.prefix(while: \.isASCIIDigit))
        guard isDateTime(Substring(text)), ValueNormalizer.utcDateTime(digits, upper: false, offsetMinutes: 0) != nil,
              let value = ValueNormalizer.dateTime(text, upper: upper) else {
            throw MatchError("'\(text)' is not a date-time (YYYY[MM[DD[HH[MM[SS[.F]]]]]][&ZZXX])")
        }
        return value
    }

    /// A DT value may hold a '-' itself (a negative UTC offset): a whole valid value is a single
    /// value; otherwise the first hyphen that leaves two valid (or empty) ends splits the range.
    static func dateTimeRange(_ value: String) throws -> (low: String?, high: String?) {
        if isDateTime(Substring(value)) { return (value, value) }
        var index = value.startIndex
        while let hyphen = value[index...].firstIndex(of: "-") {
            let left = value[..<hyphen], right = value[value.index(after: hyphen)...]
            if !(left.isEmpty && right.isEmpty), left.isEmpty || isDateTime(left), right.isEmpty || isDateTime(right) {
                return (left.isEmpty ? nil : String(left), right.isEmpty ? nil : String(right))
            }
            index = value.index(after: hyphen)
        }
        throw MatchError("'\(value)' is not a date-time or a range of them (A-B, -B, A-)")
    }

    /// YYYY[MM[DD[HH[MM[SS[.F{1,6}]]]]]] with an optional &ZZXX offset.
    static func isDateTime(_ text: Substring) -> Bool {
        var main = text
        if let sign = text.firstIndex(where: { $0 == "+" || $0 == "-" }) {
            // &ZZXX: -1200 to +1400.
            let zone = text[text.index(after: sign)...]
            guard zone.count == 4, zone.allSatisfy(\.isASCIIDigit), let hours = Int(zone.prefix(2)), let minutes = Int(zone.suffix(2)),
                  hours <= 14, minutes < 60 else { return false }
            main = text[..<sign]
        }
        let parts = main.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let digits = parts[0]
        guard [4, 6, 8, 10, 12, 14].contains(digits.count), digits.allSatisfy(\.isASCIIDigit) else { return false }
        if parts.count == 2 {
            guard digits.count == 14, (1...6).contains(parts[1].count), parts[1].allSatisfy(\.isASCIIDigit) else { return false }
        }
        return true
    }

    // MARK: UIDs and integers

    /// C.2.2.2.2: a UID or a backslash-separated list of them; no wildcards.
    static func uid(_ expression: String, _ value: String, multiValued: Bool) -> SQLFragment? {
        let values = alternatives(value).map { $0.trimmingCharacters(in: " ") }.filter { !$0.isEmpty }
        guard !values.isEmpty else { return nil }
        if multiValued {
            return SQLFragment.any(values.map { SQLFragment(.anyValueEqual(expression), [.text("\\" + $0 + "\\")]) })
        }
        return inList(expression, values)
    }

    /// IS, US: exact, or any of a backslash list.
    static func integer(_ expression: String, _ value: String) throws -> SQLFragment? {
        let values = try alternatives(value).map { text -> Int64 in
            guard let n = Int64(text.trimmingCharacters(in: " ").drop(while: { $0 == "+" })) else {
                throw MatchError("'\(text)' is not an integer")
            }
            return n
        }
        guard !values.isEmpty else { return nil }
        if values.count == 1 { return SQLFragment(.equal(expression), [.integer(values[0])]) }
        return SQLFragment(.oneOf(expression, count: values.count), values.map { .integer($0) })
    }

    // MARK: ModalitiesInStudy

    /// Studies with a series of one of the modalities (wildcards allowed).
    static func modalitiesInStudy(_ values: [String], asList: Bool) -> SQLFragment? {
        guard !values.isEmpty, !values.contains(where: isUniversal) else { return nil }
        var terms: [SQLFragment] = []
        let exact = values.filter { !hasWildcard($0) }
        if !exact.isEmpty { terms.append(inList("ms.modality", exact)) }
        terms += values.filter(hasWildcard).map { SQLFragment(.glob("ms.modality"), [.text(globPattern($0))]) }
        let inner = SQLFragment.any(terms)!
        return SQLFragment(.studiesWithSeries(inner.shape, asList: asList), inner.bindings)
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
