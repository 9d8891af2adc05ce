// Specific Character Set (0008,0005): PS3.3 C.12.1.1.2, PS3.5 §6.1 and Annex H/I/J/K.
//
// The code pages themselves come from glibc's iconv (gconv modules shipped with libc6);
// this file only implements the ISO 2022 designation logic that DICOM layers on top:
// escape sequences, the initial set given by value 1, and the reset to it at delimiters.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

public struct SpecificCharacterSet: Sendable, Hashable {
    /// Terms as they appear in (0008,0005), e.g. ["ISO_IR 100"] or ["", "ISO 2022 IR 87"] or
    /// ["ISO 2022 IR 6", "ISO 2022 IR 149"]. Values are trimmed of spaces. Empty array = default repertoire.
    public let terms: [String]
    let configuration: Configuration

    public init(terms: [String]) {
        let cleaned = terms.map(SpecificCharacterSet.trimmed)
        self.terms = cleaned
        self.configuration = Configuration(terms: cleaned)
    }

    /// Default repertoire (ISO_IR 6).
    public static let `default` = SpecificCharacterSet(terms: [])

    /// Terms this implementation does not know (decoding falls back to the default repertoire /
    /// Latin-1 for those bytes, like pydicom does, with a warning to be reported by the caller).
    public var unknownTerms: [String] { configuration.unknownTerms }

    /// Known terms that are not used: a stand-alone set (ISO_IR 192, GB18030, GBK) that is not
    /// value 1, or any term after a stand-alone value 1 (PS3.5 §6.1.2.5.4 d; pydicom ignores them too).
    public var ignoredTerms: [String] { configuration.ignoredTerms }

    public static func == (lhs: SpecificCharacterSet, rhs: SpecificCharacterSet) -> Bool {
        lhs.terms == rhs.terms
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(terms)
    }

    /// Decodes one element's whole value bytes (all values, backslash separators included, trailing
    /// padding included or not) to a String. For VRs that do not use the specific character set,
    /// decodes as default repertoire (ASCII; bytes >= 0x80 decoded as Latin-1 so nothing is lost).
    public func decode(_ bytes: ArraySlice<UInt8>, vr: VR) -> String {
        guard vr.usesSpecificCharacterSet else { return Self.latin1(bytes) }
        switch configuration.scheme {
        case .utf8:
            return String(decoding: bytes, as: UTF8.self)
        case .gb18030:
            return Self.decodeStream(bytes, codec: "GB18030")
        case .gbk:
            return Self.decodeStream(bytes, codec: "GBK")
        case let .iso2022(initialG0, initialG1):
            let decoder = ISO2022Decoder(initialG0: initialG0, initialG1: initialG1,
                                         delimiters: DelimiterKind(vr))
            return decoder.decode(bytes)
        }
    }

    // MARK: - Helpers

    static func trimmed(_ term: String) -> String {
        var scalars = Substring(term).unicodeScalars
        while let first = scalars.first, first == " " || first == "\0" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\0" { scalars.removeLast() }
        return String(scalars)
    }

    static func latin1(_ bytes: ArraySlice<UInt8>) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count + bytes.count / 2)
        for b in bytes { appendLatin1(b, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// A whole value in a stand-alone multi-byte code (GB18030, GBK): decoded in one piece,
    /// since trail bytes may be 0x5C (backslash) and must not be taken for delimiters.
    static func decodeStream(_ bytes: ArraySlice<UInt8>, codec: String) -> String {
        guard !bytes.isEmpty else { return "" }
        guard let converter = IconvDecoder(codec: codec) else { return latin1(bytes) }
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        converter.decodeStream(Array(bytes), into: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

// MARK: - Configuration (what the terms mean)

extension SpecificCharacterSet {
    /// Sets that can be designated to G0 (GL, bytes 0x21–0x7E).
    enum G0Set: Sendable, Hashable {
        /// ISO-IR 6 (ASCII); also used for ISO-IR 14 (JIS X 0201 Romaji), decoded as ASCII like pydicom
        /// does, so that 0x5C stays the backslash value delimiter.
        case ascii
        /// ISO-IR 87, JIS X 0208 (two bytes).
        case jisX0208
        /// ISO-IR 159, JIS X 0212 (two bytes).
        case jisX0212
    }

    /// Sets that can be designated to G1 (GR, bytes 0xA0–0xFF).
    enum G1Set: Sendable, Hashable {
        /// Nothing designated (default repertoire): high bytes are decoded as Latin-1, losslessly.
        case latin1Fallback
        /// A 96-character single-byte set (ISO 8859 part or TIS 620).
        case singleByte(SingleByteCode)
        /// ISO-IR 13, JIS X 0201 katakana (Shift_JIS double-byte pairs are also accepted, like pydicom).
        case katakana
        /// ISO-IR 149, KS X 1001 (two bytes, decoded as EUC-KR).
        case ksX1001
        /// ISO-IR 58, GB 2312 (two bytes, decoded as EUC-CN).
        case gb2312
    }

    /// iconv names of the single-byte G1 sets.
    enum SingleByteCode: String, Sendable, Hashable, CaseIterable {
        case latin1 = "ISO-8859-1"      // ISO-IR 100
        case latin2 = "ISO-8859-2"      // ISO-IR 101
        case latin3 = "ISO-8859-3"      // ISO-IR 109
        case latin4 = "ISO-8859-4"      // ISO-IR 110
        case cyrillic = "ISO-8859-5"    // ISO-IR 144
        case arabic = "ISO-8859-6"      // ISO-IR 127
        case greek = "ISO-8859-7"       // ISO-IR 126
        case hebrew = "ISO-8859-8"      // ISO-IR 138
        case latin5 = "ISO-8859-9"      // ISO-IR 148
        case latin9 = "ISO-8859-15"     // ISO-IR 203
        case thai = "TIS-620"           // ISO-IR 166
    }

    enum Scheme: Sendable, Hashable {
        case iso2022(initialG0: G0Set, initialG1: G1Set)
        case utf8
        case gb18030
        case gbk
    }

    /// What one term of (0008,0005) designates.
    enum Meaning: Sendable, Hashable {
        case g0(G0Set)
        case g1(G1Set)
        /// ISO-IR 13 with ISO-IR 14: Romaji in G0 and katakana in G1.
        case japaneseSingleByte
        case standAlone(Scheme)
    }

    /// All known terms (PS3.3 Tables C.12-2 to C.12-5).
    static let knownTerms: [String: Meaning] = {
        var table: [String: Meaning] = [
            "ISO_IR 6": .g0(.ascii),
            "ISO 2022 IR 6": .g0(.ascii),
            "ISO_IR 13": .japaneseSingleByte,
            "ISO 2022 IR 13": .japaneseSingleByte,
            "ISO 2022 IR 87": .g0(.jisX0208),
            "ISO 2022 IR 159": .g0(.jisX0212),
            "ISO 2022 IR 149": .g1(.ksX1001),
            "ISO 2022 IR 58": .g1(.gb2312),
            "ISO_IR 192": .standAlone(.utf8),
            "GB18030": .standAlone(.gb18030),
            "GBK": .standAlone(.gbk),
            // Spellings pydicom also accepts (from CP 1234 drafts).
            "ISO 2022 58": .g1(.gb2312),
            "ISO 2022 GBK": .standAlone(.gbk),
        ]
        let singleByte: [(String, SingleByteCode)] = [
            ("100", .latin1), ("101", .latin2), ("109", .latin3), ("110", .latin4),
            ("144", .cyrillic), ("127", .arabic), ("126", .greek), ("138", .hebrew),
            ("148", .latin5), ("203", .latin9), ("166", .thai),
        ]
        for (number, code) in singleByte {
            table["ISO_IR \(number)"] = .g1(.singleByte(code))
            table["ISO 2022 IR \(number)"] = .g1(.singleByte(code))
        }
        return table
    }()

    /// The meaning of a term, also accepting common misspellings such as "ISO IR 100",
    /// "ISO-IR 100", "ISO_2022_IR_87" or lower case (pydicom accepts these with a warning).
    static func meaning(of term: String) -> Meaning? {
        if let meaning = knownTerms[term] { return meaning }
        let upper = term.uppercased()
        if let meaning = knownTerms[upper] { return meaning }
        let separators: Set<Character> = [" ", "_", "-", "."]
        var rest = Substring(upper)
        guard rest.hasPrefix("ISO") else { return nil }
        rest = rest.dropFirst(3)
        while let c = rest.first, separators.contains(c) { rest = rest.dropFirst() }
        var extended = false
        if rest.hasPrefix("2022") {
            extended = true
            rest = rest.dropFirst(4)
            while let c = rest.first, separators.contains(c) { rest = rest.dropFirst() }
        }
        guard rest.hasPrefix("IR") else { return nil }
        rest = rest.dropFirst(2)
        while let c = rest.first, separators.contains(c) { rest = rest.dropFirst() }
        guard !rest.isEmpty, rest.allSatisfy(\.isASCII), rest.allSatisfy(\.isNumber) else { return nil }
        let canonical = extended ? "ISO 2022 IR \(rest)" : "ISO_IR \(rest)"
        return knownTerms[canonical]
    }

    struct Configuration: Sendable, Hashable {
        var scheme: Scheme
        var unknownTerms: [String] = []
        var ignoredTerms: [String] = []

        init(terms: [String]) {
            var g0 = G0Set.ascii
            var g1 = G1Set.latin1Fallback
            var standAlone: Scheme?
            for (index, term) in terms.enumerated() {
                if term.isEmpty { continue }   // empty value 1 = default repertoire
                guard let meaning = SpecificCharacterSet.meaning(of: term) else {
                    unknownTerms.append(term)
                    continue
                }
                if standAlone != nil {
                    ignoredTerms.append(term)
                    continue
                }
                if index > 0 {
                    // Later values only make escape sequences legal; escapes are honoured anyway.
                    if case .standAlone = meaning { ignoredTerms.append(term) }
                    continue
                }
                // Value 1: the initial state.
                switch meaning {
                case .g0:
                    // A multi-byte G0 set as value 1 still starts in ASCII (as pydicom's iso2022_jp does);
                    // its bytes need an escape sequence.
                    g0 = .ascii
                case .g1(let set):
                    g1 = set
                case .japaneseSingleByte:
                    g0 = .ascii
                    g1 = .katakana
                case .standAlone(let scheme):
                    standAlone = scheme
                }
            }
            scheme = standAlone ?? .iso2022(initialG0: g0, initialG1: g1)
        }
    }
}

// MARK: - ISO 2022 decoding (PS3.5 §6.1.2.5)

extension SpecificCharacterSet {
    /// Which graphic characters end a value or component, where the initial set is restored
    /// (PS3.5 §6.1.2.5.3). Control characters (CR, LF, TAB, FF, ...) always do.
    enum DelimiterKind {
        case personName     // "\", "^", "="
        case multiValued    // "\"
        case singleValued   // LT, ST, UT, UR: a backslash is text

        init(_ vr: VR) {
            if vr == .PN {
                self = .personName
            } else if vr.isSingleValuedText {
                self = .singleValued
            } else {
                self = .multiValued
            }
        }

        func contains(_ byte: UInt8) -> Bool {
            switch self {
            case .personName: return byte == 0x5C || byte == 0x5E || byte == 0x3D
            case .multiValued: return byte == 0x5C
            case .singleValued: return false
            }
        }
    }

    enum Designation: Equatable {
        case g0(G0Set)
        case g1(G1Set)
    }

    /// Recognises the escape sequence starting at `index` (which holds ESC).
    /// Returns its length and what it designates, or nil if it is not one DICOM uses.
    static func escapeSequence(in bytes: ArraySlice<UInt8>, at index: Int) -> (length: Int, designation: Designation)? {
        func byte(_ offset: Int) -> UInt8? {
            let i = index + offset
            return i < bytes.endIndex ? bytes[i] : nil
        }
        guard let b1 = byte(1) else { return nil }
        switch b1 {
        case 0x28: // "(" : 94-set to G0
            switch byte(2) {
            case 0x42: return (3, .g0(.ascii))      // ESC ( B  ISO-IR 6
            case 0x4A: return (3, .g0(.ascii))      // ESC ( J  ISO-IR 14 (Romaji, decoded as ASCII)
            default: return nil
            }
        case 0x29: // ")" : 94-set to G1
            return byte(2) == 0x49 ? (3, .g1(.katakana)) : nil   // ESC ) I  ISO-IR 13
        case 0x2D: // "-" : 96-set to G1
            let code: SingleByteCode
            switch byte(2) {
            case 0x41: code = .latin1     // ESC - A  ISO-IR 100
            case 0x42: code = .latin2     // ESC - B  ISO-IR 101
            case 0x43: code = .latin3     // ESC - C  ISO-IR 109
            case 0x44: code = .latin4     // ESC - D  ISO-IR 110
            case 0x4C: code = .cyrillic   // ESC - L  ISO-IR 144
            case 0x47: code = .arabic     // ESC - G  ISO-IR 127
            case 0x46: code = .greek      // ESC - F  ISO-IR 126
            case 0x48: code = .hebrew     // ESC - H  ISO-IR 138
            case 0x4D: code = .latin5     // ESC - M  ISO-IR 148
            case 0x62: code = .latin9     // ESC - b  ISO-IR 203
            case 0x54: code = .thai       // ESC - T  ISO-IR 166
            default: return nil
            }
            return (3, .g1(.singleByte(code)))
        case 0x24: // "$" : multi-byte set
            switch byte(2) {
            case 0x42, 0x40: return (3, .g0(.jisX0208))    // ESC $ B (ISO-IR 87), ESC $ @ (JIS C 6226-1978)
            case 0x28:
                switch byte(3) {
                case 0x44: return (4, .g0(.jisX0212))       // ESC $ ( D  ISO-IR 159
                case 0x42, 0x40: return (4, .g0(.jisX0208)) // long form of ESC $ B
                default: return nil
                }
            case 0x29:
                switch byte(3) {
                case 0x43: return (4, .g1(.ksX1001))        // ESC $ ) C  ISO-IR 149
                case 0x41: return (4, .g1(.gb2312))         // ESC $ ) A  ISO-IR 58
                default: return nil
                }
            default: return nil
            }
        default:
            return nil
        }
    }

    struct ISO2022Decoder {
        let initialG0: G0Set
        let initialG1: G1Set
        let delimiters: DelimiterKind

        func decode(_ bytes: ArraySlice<UInt8>) -> String {
            var out = [UInt8]()
            out.reserveCapacity(bytes.count * 2)
            var g0 = initialG0
            var g1 = initialG1
            var i = bytes.startIndex
            let end = bytes.endIndex
            while i < end {
                let b = bytes[i]
                if b == 0x1B {
                    // Escape sequences are consumed; an unrecognised ESC becomes U+FFFD and the bytes
                    // after it are decoded as ordinary text (nothing else is dropped).
                    if let (length, designation) = SpecificCharacterSet.escapeSequence(in: bytes, at: i) {
                        switch designation {
                        case .g0(let set): g0 = set
                        case .g1(let set): g1 = set
                        }
                        i += length
                    } else {
                        appendReplacement(to: &out)
                        i += 1
                    }
                    continue
                }
                if b < 0x20 || b == 0x7F {
                    // Control characters: the initial set is active again after them.
                    out.append(b)
                    g0 = initialG0
                    g1 = initialG1
                    i += 1
                    continue
                }
                if b < 0x80 {
                    switch g0 {
                    case .ascii:
                        out.append(b)
                        if delimiters.contains(b) {
                            g0 = initialG0
                            g1 = initialG1
                        }
                        i += 1
                    case .jisX0208, .jisX0212:
                        if b == 0x20 {
                            out.append(b)
                            i += 1
                            continue
                        }
                        // Pairs of GL bytes; a 0x5C/0x5E/0x3D here is half of a character, not a delimiter.
                        var j = i
                        while j < end, bytes[j] >= 0x21, bytes[j] <= 0x7E { j += 1 }
                        decodeJIS(bytes[i..<j], set: g0, into: &out)
                        i = max(j, i + 1)   // always advance (j > i here, as 0x21 <= b <= 0x7E)
                    }
                    continue
                }
                switch g1 {
                case .latin1Fallback:
                    appendLatin1(b, to: &out)
                    i += 1
                case .singleByte(let code):
                    let scalar = SpecificCharacterSet.singleByteTable(code)[Int(b - 0x80)]
                    appendScalar(scalar, to: &out)
                    i += 1
                case .katakana:
                    i = decodeShiftJIS(bytes, from: i, into: &out)
                case .ksX1001, .gb2312:
                    var j = i
                    while j < end, bytes[j] >= 0xA1, bytes[j] <= 0xFE { j += 1 }
                    if j == i {
                        appendReplacement(to: &out)   // 0x80–0xA0 or 0xFF: not in a 94×94 set
                        i += 1
                    } else {
                        decodeDoubleByteGR(bytes[i..<j], codec: g1 == .ksX1001 ? "EUC-KR" : "EUC-CN", into: &out)
                        i = j
                    }
                }
            }
            return String(decoding: out, as: UTF8.self)
        }

        /// A run of GL bytes 0x21–0x7E in JIS X 0208 or JIS X 0212, decoded through EUC-JP.
        private func decodeJIS(_ run: ArraySlice<UInt8>, set: G0Set, into out: inout [UInt8]) {
            guard let converter = IconvDecoder(codec: "EUC-JP") else {
                for b in run { out.append(b) }   // no codec: keep the raw 7-bit bytes, as text
                return
            }
            var i = run.startIndex
            while i + 1 < run.endIndex {
                var unit: [UInt8] = set == .jisX0212 ? [0x8F] : []
                unit.append(run[i] | 0x80)
                unit.append(run[i + 1] | 0x80)
                if !converter.decodeUnit(unit, into: &out) { appendReplacement(to: &out) }
                i += 2
            }
            if i < run.endIndex { appendReplacement(to: &out) }   // truncated character
        }

        /// A run of GR bytes 0xA1–0xFE in KS X 1001 or GB 2312.
        private func decodeDoubleByteGR(_ run: ArraySlice<UInt8>, codec: String, into out: inout [UInt8]) {
            guard let converter = IconvDecoder(codec: codec) else {
                for b in run { appendLatin1(b, to: &out) }
                return
            }
            var i = run.startIndex
            while i + 1 < run.endIndex {
                if !converter.decodeUnit([run[i], run[i + 1]], into: &out) { appendReplacement(to: &out) }
                i += 2
            }
            if i < run.endIndex { appendReplacement(to: &out) }
        }

        /// GR bytes in JIS X 0201 katakana (0xA1–0xDF). Like pydicom (which uses Python's shift_jis
        /// codec for ISO-IR 13), a Shift_JIS lead byte followed by a trail byte is decoded as one
        /// JIS X 0208 character: files labelled ISO_IR 13 that hold Shift_JIS are common.
        /// Returns the index after what was consumed.
        private func decodeShiftJIS(_ bytes: ArraySlice<UInt8>, from start: Int, into out: inout [UInt8]) -> Int {
            let b = bytes[start]
            if b >= 0xA1, b <= 0xDF {
                appendScalar(Unicode.Scalar(0xFF61 + UInt32(b - 0xA1))!, to: &out)
                return start + 1
            }
            let isLead = (b >= 0x81 && b <= 0x9F) || (b >= 0xE0 && b <= 0xFC)
            if isLead, start + 1 < bytes.endIndex {
                let t = bytes[start + 1]
                if (t >= 0x40 && t <= 0x7E) || (t >= 0x80 && t <= 0xFC),
                   let converter = IconvDecoder(codec: "SHIFT_JIS"),
                   converter.decodeUnit([b, t], into: &out) {
                    return start + 2
                }
            }
            appendReplacement(to: &out)
            return start + 1
        }
    }
}

// MARK: - Single-byte tables

extension SpecificCharacterSet {
    /// Unicode scalars for bytes 0x80–0xFF of each single-byte set, built once from iconv.
    /// Bytes the code does not define (and every byte, if iconv lacks the code) map to U+FFFD,
    /// except for Latin-1 which is the identity.
    private static let singleByteTables: [SingleByteCode: [Unicode.Scalar]] = {
        var tables: [SingleByteCode: [Unicode.Scalar]] = [:]
        let latin1 = (0x80...0xFF).map { Unicode.Scalar(UInt8($0)) }
        for code in SingleByteCode.allCases {
            if code == .latin1 {
                tables[code] = latin1
                continue
            }
            guard let converter = IconvDecoder(codec: code.rawValue) else {
                tables[code] = latin1
                continue
            }
            var table = [Unicode.Scalar]()
            table.reserveCapacity(128)
            for byte in 0x80...0xFF {
                var utf8 = [UInt8]()
                if converter.decodeUnit([UInt8(byte)], into: &utf8),
                   let scalar = String(decoding: utf8, as: UTF8.self).unicodeScalars.first {
                    table.append(scalar)
                } else {
                    table.append(replacementCharacter)
                }
            }
            tables[code] = table
        }
        return tables
    }()

    static func singleByteTable(_ code: SingleByteCode) -> [Unicode.Scalar] {
        singleByteTables[code] ?? (0x80...0xFF).map { Unicode.Scalar(UInt8($0)) }
    }

    /// Whether this machine's iconv can decode `codec` (for tests and diagnostics).
    static func isCodecAvailable(_ codec: String) -> Bool {
        IconvDecoder(codec: codec) != nil
    }

    /// The iconv codec names this implementation uses.
    static let iconvCodecs: [String] = SingleByteCode.allCases.map(\.rawValue)
        + ["EUC-JP", "SHIFT_JIS", "EUC-KR", "EUC-CN", "GB18030", "GBK"]
}

// MARK: - UTF-8 output helpers

private let replacementCharacter: Unicode.Scalar = "\u{FFFD}"

private func appendScalar(_ scalar: Unicode.Scalar, to out: inout [UInt8]) {
    UTF8.encode(scalar) { out.append($0) }
}

private func appendLatin1(_ byte: UInt8, to out: inout [UInt8]) {
    if byte < 0x80 {
        out.append(byte)
    } else {
        out.append(0xC0 | (byte >> 6))
        out.append(0x80 | (byte & 0x3F))
    }
}

private func appendReplacement(to out: inout [UInt8]) {
    out.append(contentsOf: [0xEF, 0xBF, 0xBD])
}

// MARK: - iconv

/// One glibc iconv conversion descriptor from `codec` to UTF-8, closed when it goes away.
struct IconvDecoder: ~Copyable {
    private let descriptor: iconv_t

    init?(codec: String) {
        let descriptor = iconv_open("UTF-8", codec)
        guard let descriptor, Int(bitPattern: descriptor) != -1 else { return nil }
        self.descriptor = descriptor
    }

    deinit {
        iconv_close(descriptor)
    }

    private func resetState() {
        _ = iconv(descriptor, nil, nil, nil, nil)
    }

    /// Decodes `unit`, which must be exactly one complete character, appending its UTF-8.
    /// Returns false (appending nothing) if the bytes are invalid, incomplete or not all used.
    func decodeUnit(_ unit: [UInt8], into out: inout [UInt8]) -> Bool {
        resetState()
        var input = unit
        var output = [UInt8](repeating: 0, count: 32)
        let produced: Int? = input.withUnsafeMutableBytes { inRaw in
            output.withUnsafeMutableBytes { outRaw in
                var inPtr = inRaw.baseAddress?.assumingMemoryBound(to: CChar.self)
                var inLeft = inRaw.count
                var outPtr = outRaw.baseAddress?.assumingMemoryBound(to: CChar.self)
                var outLeft = outRaw.count
                let result = iconv(descriptor, &inPtr, &inLeft, &outPtr, &outLeft)
                guard result != -1, inLeft == 0 else { return nil }
                return outRaw.count - outLeft
            }
        }
        guard let produced, produced > 0 else { return false }
        out.append(contentsOf: output[0..<produced])
        return true
    }

    /// Decodes a whole byte stream, appending UTF-8. An invalid byte becomes U+FFFD and decoding
    /// resumes at the next byte; an incomplete sequence at the end becomes one U+FFFD.
    func decodeStream(_ bytes: [UInt8], into out: inout [UInt8]) {
        resetState()
        var input = bytes
        var output = [UInt8](repeating: 0, count: max(64, bytes.count * 4))
        input.withUnsafeMutableBytes { inRaw in
            guard let base = inRaw.baseAddress else { return }
            var inPtr: UnsafeMutablePointer<CChar>? = base.assumingMemoryBound(to: CChar.self)
            var inLeft = inRaw.count
            while inLeft > 0 {
                let before = inLeft
                var failure: Int32 = 0
                output.withUnsafeMutableBytes { outRaw in
                    var outPtr = outRaw.baseAddress?.assumingMemoryBound(to: CChar.self)
                    var outLeft = outRaw.count
                    let result = iconv(descriptor, &inPtr, &inLeft, &outPtr, &outLeft)
                    out.append(contentsOf: outRaw.prefix(outRaw.count - outLeft))
                    if result == -1 { failure = errno }
                }
                if failure == 0 || failure == E2BIG {
                    if inLeft < before { continue }
                    if failure == 0 { break }   // cannot happen: iconv consumed nothing without error
                }
                if failure == EINVAL {
                    // Incomplete multi-byte sequence at the end of the input.
                    appendReplacement(to: &out)
                    break
                }
                // EILSEQ (or anything unexpected, or no progress): skip one byte.
                appendReplacement(to: &out)
                inPtr = inPtr.map { $0 + 1 }
                inLeft -= 1
                resetState()
            }
        }
    }
}
