import Testing
@testable import DicomCore

@Suite struct DicomJSONEncoderTests {
    func element(_ tag: Tag, _ vr: VR, _ text: String) -> DataElement {
        var bytes = Array(text.utf8)
        if bytes.count % 2 == 1 { bytes.append(vr == .UI ? 0 : 0x20) }
        return DataElement(tag: tag, vr: vr, bytes: bytes)
    }

    func encode(_ elements: [DataElement], options: DicomJSONOptions = DicomJSONOptions(),
                characterSet: SpecificCharacterSet = .default) throws -> String {
        try DicomJSONEncoder(options: options).encode(DataSet(elements: elements, characterSet: characterSet))
    }

    @Test func writesKeysInTagOrderWithValues() throws {
        let json = try encode([
            element(Tag(0x0010, 0x0020), .LO, "PID1"),
            element(Tag(0x0008, 0x0060), .CS, "CT"),
            element(Tag(0x0008, 0x0008), .CS, "ORIGINAL\\PRIMARY"),
        ])
        #expect(json == #"{"00080008":{"vr":"CS","Value":["ORIGINAL","PRIMARY"]},"00080060":{"vr":"CS","Value":["CT"]},"00100020":{"vr":"LO","Value":["PID1"]}}"#)
    }

    @Test func writesPersonNameGroups() throws {
        let json = try encode([element(Tag(0x0010, 0x0010), .PN, "Yamada^Tarou=山田^太郎=やまだ^たろう")],
                              characterSet: SpecificCharacterSet(terms: ["ISO_IR 192"]))
        #expect(json == #"{"00100010":{"vr":"PN","Value":[{"Alphabetic":"Yamada^Tarou","Ideographic":"山田^太郎","Phonetic":"やまだ^たろう"}]}}"#)
    }

    @Test func writesNumbers() throws {
        let json = try encode([
            element(Tag(0x0018, 0x0050), .DS, "2.50\\-1e3\\.5\\"),
            element(Tag(0x0020, 0x0013), .IS, " 7"),
            DataElement(tag: Tag(0x0028, 0x0010), vr: .US, bytes: [0x00, 0x02]),
            DataElement(tag: Tag(0x0028, 0x0106), vr: .SS, bytes: [0xFF, 0xFF]),
            DataElement(tag: Tag(0x0018, 0x9089), vr: .FD, bytes: [0, 0, 0, 0, 0, 0, 0xF8, 0x3F]),
            DataElement(tag: Tag(0x0020, 0x9165), vr: .AT, bytes: [0x10, 0x00, 0x10, 0x00]),
        ])
        #expect(json.contains(#""00180050":{"vr":"DS","Value":[2.50,-1e3,0.5,null]}"#))
        #expect(json.contains(#""00200013":{"vr":"IS","Value":[7]}"#))
        #expect(json.contains(#""00280010":{"vr":"US","Value":[512]}"#))
        #expect(json.contains(#""00280106":{"vr":"SS","Value":[-1]}"#))
        #expect(json.contains(#""00189089":{"vr":"FD","Value":[1.5]}"#))
        #expect(json.contains(#""00209165":{"vr":"AT","Value":["00100010"]}"#))
    }

    @Test func omitsValueOfEmptyElementsAndNestsSequences() throws {
        let item = DataSet(elements: [element(Tag(0x0008, 0x1150), .UI, "1.2.3")])
        let json = try encode([
            DataElement(tag: Tag(0x0008, 0x0050), vr: .SH, bytes: []),
            DataElement(tag: Tag(0x0008, 0x1140), vr: .SQ, value: .sequence([item, DataSet()])),
        ])
        #expect(json == #"{"00080050":{"vr":"SH"},"00081140":{"vr":"SQ","Value":[{"00081150":{"vr":"UI","Value":["1.2.3"]}},{}]}}"#)
    }

    @Test func inlinesSmallBinaryAndRefersToLargeBinary() throws {
        var options = DicomJSONOptions(inlineThreshold: 4)
        options.bulkDataURI = { "bulk:\($0.tag.hexString)" }
        let json = try encode([
            DataElement(tag: Tag(0x0009, 0x1001), vr: .OB, bytes: [1, 2, 3, 4]),
            DataElement(tag: Tag(0x0009, 0x1002), vr: .OB, bytes: [1, 2, 3, 4, 5, 6]),
        ], options: options)
        #expect(json.contains(#""00091001":{"vr":"OB","InlineBinary":"AQIDBA=="}"#))
        #expect(json.contains(#""00091002":{"vr":"OB","BulkDataURI":"bulk:00091002"}"#))
    }

    @Test func keepsWhatIsNotANumberAndDropsPaddingOnlyValues() throws {
        let json = try encode([
            element(Tag(0x0028, 0x0008), .IS, "1A"),
            element(Tag(0x0010, 0x2160), .SH, "  "),
            element(Tag(0x0010, 0x0010), .PN, "Wang^XiaoDong==wang"),
        ])
        #expect(json.contains(#""00280008":{"vr":"IS","Value":["1A"]}"#))
        #expect(json.contains(#""00102160":{"vr":"SH"}"#))
        #expect(json.contains(#""00100010":{"vr":"PN","Value":[{"Alphabetic":"Wang^XiaoDong","Phonetic":"wang"}]}"#))
    }

    @Test func escapesStrings() throws {
        let json = try encode([element(Tag(0x0008, 0x1030), .LO, "a\"b\\c\u{1}")])
        // The backslash splits LO values; quotes and control characters are escaped.
        #expect(json == #"{"00081030":{"vr":"LO","Value":["a\"b","c\u0001"]}}"#)
    }

    @Test func base64MatchesRFC4648Vectors() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (input, output) in vectors { #expect(base64(Array(input.utf8)) == output) }
    }

    @Test func recognisesJSONNumberText() {
        for good in ["0", "-1", "2.50", "1e3", "-1.5E-7"] { #expect(isJSONNumber(good), "\(good)") }
        for bad in ["", "+1", ".5", "1.", "01", "1e", "NaN", "1,5"] { #expect(!isJSONNumber(bad), "\(bad)") }
    }
}
