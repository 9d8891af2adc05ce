import Testing
@testable import DicomCore

/// The JSON writer's byte-level fast paths: escaping, numbers written from bytes, and the ASCII
/// path of the DICOM JSON encoder, each against what the String path or RFC 8259 says.
@Suite struct JSONWriterTests {
    func written(_ body: (inout JSONWriter) -> Void) -> String {
        var writer = JSONWriter()
        body(&writer)
        return writer.string
    }

    func writtenUTF8(_ text: String) -> String {
        written { writer in
            Array(text.utf8).withUnsafeBufferPointer { writer.string(utf8: $0) }
        }
    }

    @Test func escapesEveryControlCharacterQuoteAndBackslash() {
        var text = ""
        var expected = "\""
        for byte in UInt8(0)..<0x20 {
            text.unicodeScalars.append(Unicode.Scalar(byte))
            switch byte {
            case 9: expected += "\\t"
            case 10: expected += "\\n"
            case 13: expected += "\\r"
            default:
                let hex = Array("0123456789abcdef")
                expected += "\\u00" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 0xF)])
            }
        }
        text += "a\"b\\c\u{7F}d"
        expected += "a\\\"b\\\\c\u{7F}d\""
        #expect(written { $0.string(text) } == expected)
        #expect(writtenUTF8(text) == expected)
    }

    @Test func copiesNonASCIIUTF8AsItIs() {
        for text in ["Müller^Jürgen", "山田^太郎", "emoji 🩻 end", "é\"\n", ""] {
            let json = written { $0.string(text) }
            #expect(Array(json.utf8).dropFirst().dropLast().elementsEqual(Self.reference(text)), "\(text)")
            #expect(writtenUTF8(text) == json, "\(text)")
        }
    }

    /// RFC 8259 escaping done the slow way, for comparison.
    static func reference(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += Array("\\\"".utf8)
            case UInt8(ascii: "\\"): out += Array("\\\\".utf8)
            case 10: out += Array("\\n".utf8)
            case 13: out += Array("\\r".utf8)
            case 9: out += Array("\\t".utf8)
            case 0..<0x20: out += Array("\\u00".utf8) + Array(String(byte, radix: 16).leftPadded(2).utf8)
            default: out.append(byte)
            }
        }
        return out
    }

    @Test func invalidUTF8IsReplacedWhenDecoded() throws {
        // A stray 0xFF in a UTF-8 data set: decoded (not copied) to U+FFFD, as before the fast path.
        let element = DataElement(tag: Tag(0x0010, 0x0010), vr: .LO, bytes: [0x41, 0xFF, 0x42, 0x20])
        let json = try DicomJSONEncoder().encode(DataSet(elements: [element], characterSet: SpecificCharacterSet(terms: ["ISO_IR 192"])))
        #expect(json == #"{"00100010":{"vr":"LO","Value":["A\#u{FFFD}B"]}}"#)
        // The same bytes in the default repertoire are read as Latin-1 (ÿ).
        let latin = try DicomJSONEncoder().encode(DataSet(elements: [element]))
        #expect(latin == #"{"00100010":{"vr":"LO","Value":["A\#u{FF}B"]}}"#)
    }

    @Test func writesIntegersAsSwiftPrintsThem() {
        let signed = [0, 7, -1, 10, 99, 100, -100, 1_234_567_890, Int.max, Int.min]
        for n in signed { #expect(written { $0.integer(n) } == String(n)) }
        for n: UInt64 in [0, 9, 10, UInt64(Int.max) + 1, UInt64.max] { #expect(written { $0.integer(n) } == String(n)) }
    }

    @Test func parsesIntegersAsIntOfStringDoes() {
        let texts = ["0", "-0", "+5", "007", "-12", "9223372036854775807", "9223372036854775808",
                     "-9223372036854775808", "-9223372036854775809", "", "-", "+", "1.0", "1e3", " 1", "1 ", "12a"]
        for text in texts {
            let parsed = Array(text.utf8).withUnsafeBufferPointer { parseInt($0) }
            #expect(parsed == Int(text), "\(text)")
        }
    }

    @Test func numberTextFromBytesEqualsNumberTextFromString() {
        let texts = ["0", "-0", "+5", "007", "1.5", "2.50", "-1e3", ".5", "1.", "+2.0", "1E+02", "1e", "NaN", "inf",
                     "9223372036854775808", "-", "1A", "", "0.000001", "00.5"]
        for text in texts {
            for integer in [true, false] {
                let fromString = written { $0.numberText(text, integer: integer) }
                let fromBytes = written { writer in
                    Array(text.utf8).withUnsafeBufferPointer { writer.numberText(ascii: $0, integer: integer) }
                }
                #expect(fromBytes == fromString, "\(text) integer: \(integer)")
            }
        }
    }

    @Test func writesKeysTagsAndNestingWithCommas() {
        let json = written { w in
            w.beginObject()
            w.key(tag: Tag(0x7FE0, 0x0010))
            w.beginArray()
            w.string(tag: Tag(0x0028, 0x0009))
            w.beginObject(); w.endObject()
            w.null()
            w.endArray()
            w.key("k")
            w.beginArray(); w.endArray()
            w.endObject()
        }
        #expect(json == #"{"7FE00010":["00280009",{},null],"k":[]}"#)
    }

    @Test func prettyLayoutIndentsMembersAndKeepsEmptyContainersShut() {
        var w = JSONWriter(pretty: true)
        w.beginObject()
        w.key("a"); w.beginArray(); w.endArray()
        w.key("b"); w.beginArray(); w.integer(1); w.beginObject(); w.endObject(); w.endArray()
        w.endObject()
        #expect(w.string == "{\n  \"a\": [],\n  \"b\": [\n    1,\n    {}\n  ]\n}")
    }
}

/// The encoder's ASCII path against the decoding path: the same values with one more value
/// that is not ASCII take the String path, and must come out the same apart from that value.
@Suite struct DicomJSONEncoderFastPathTests {
    func encode(_ vr: VR, _ bytes: [UInt8], characterSet: SpecificCharacterSet = SpecificCharacterSet(terms: ["ISO_IR 100"])) throws -> String {
        try DicomJSONEncoder().encode(DataSet(elements: [DataElement(tag: Tag(0x0009, 0x0010), vr: vr, bytes: bytes)], characterSet: characterSet))
    }

    @Test func asciiValuesMatchDecodedValues() throws {
        let cases: [(VR, String)] = [
            (.CS, "ORIGINAL\\PRIMARY\\\\AXIAL "), (.LO, "  leading kept \\ x "), (.AE, "  AET  "), (.UI, "1.2.3\0"),
            (.PN, "Yamada^Tarou=Y^T=y^t"), (.PN, "A==C\\\\B "), (.PN, "A=B=C=D"),
            (.SH, "\"quoted\"\\tab\there"), (.IS, " 7\\+8\\-0\\1.5\\\\x"), (.DS, "2.50\\ -1e3\\.5\\1.\\ \\abc"),
        ]
        for (vr, text) in cases {
            let ascii = try encode(vr, Array(text.utf8))
            // A last value é (0xE9 in ISO_IR 100) sends the whole element down the decoding path.
            let decoded = try encode(vr, Array(text.utf8) + [0x5C, 0xE9])
            let extra = vr == .PN ? #",{"Alphabetic":"é"}"# : #","é""#
            #expect(decoded.removing(extra) == ascii, "\(vr) \(text)")
            #expect(decoded != ascii)
        }
        // A single-valued text: é in front.
        let lt = "one\\value \t "
        #expect(try encode(.LT, [0xE9] + Array(lt.utf8)).removing("é") == encode(.LT, Array(lt.utf8)))
    }

    @Test func writesBinaryNumbersOfEveryWidthAndOrder() throws {
        #expect(try encode(.US, [0xFF, 0xFF, 1, 0]) == #"{"00090010":{"vr":"US","Value":[65535,1]}}"#)
        #expect(try encode(.SS, [0x00, 0x80]) == #"{"00090010":{"vr":"SS","Value":[-32768]}}"#)
        #expect(try encode(.SL, [0xFF, 0xFF, 0xFF, 0xFF, 0x01]) == #"{"00090010":{"vr":"SL","Value":[-1]}}"#)
        #expect(try encode(.UV, [UInt8](repeating: 0xFF, count: 8)) == #"{"00090010":{"vr":"UV","Value":[18446744073709551615]}}"#)
        #expect(try encode(.SV, [0, 0, 0, 0, 0, 0, 0, 0x80]) == #"{"00090010":{"vr":"SV","Value":[-9223372036854775808]}}"#)
        let bigEndian = DataSet(elements: [DataElement(tag: Tag(0x0009, 0x0010), vr: .AT, bytes: [0x00, 0x28, 0x00, 0x10])], isBigEndian: true)
        #expect(try DicomJSONEncoder().encode(bigEndian) == #"{"00090010":{"vr":"AT","Value":["00280010"]}}"#)
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }

    /// The text without the first occurrence of `part`.
    fileprivate func removing(_ part: String) -> String {
        let text = Array(utf8), needle = Array(part.utf8)
        guard !needle.isEmpty, needle.count <= text.count else { return self }
        for i in 0...(text.count - needle.count) where text[i..<(i + needle.count)].elementsEqual(needle) {
            return String(decoding: text[..<i] + text[(i + needle.count)...], as: UTF8.self)
        }
        return self
    }
}
