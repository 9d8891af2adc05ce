import DicomCore
@testable import DicomIndex
import Testing

/// The text columns are joined on bytes (eight at a time for ASCII, on the decoded bytes for
/// other text below U+0300); they must hold exactly what DataElement.strings gives, joined.
@Suite struct JoinedTextTests {
    static let characterSets: [SpecificCharacterSet] = [
        SpecificCharacterSet(terms: []), SpecificCharacterSet(terms: ["ISO_IR 100"]),
        SpecificCharacterSet(terms: ["ISO_IR 192"]), SpecificCharacterSet(terms: ["", "ISO 2022 IR 87"]),
    ]
    static let vrs: [VR] = [.PN, .LO, .UI, .CS, .DS, .IS, .AE, .SH, .LT, .ST, .UT, .DT, .TM]

    func expectSameText(_ bytes: [UInt8], _ vr: VR, _ characterSet: SpecificCharacterSet) {
        let element = DataElement(tag: Tag(0x0010, 0x0010), vr: vr, bytes: bytes)
        let expected = element.strings(characterSet: characterSet).flatMap { $0.isEmpty ? nil : $0.joined(separator: "\\") }
        let joined = withUnsafePointer(to: element) { InstanceRecord.joinedText($0, characterSet: characterSet) }
        #expect(joined == expected, "\(vr) \(bytes)")
    }

    /// Values whose backslashes, padding and non-ASCII bytes fall on either side of the
    /// eight-byte steps, Latin-1 and UTF-8 text, a combining mark after a backslash (one
    /// Character with it: not a delimiter) and ISO 2022 escapes.
    @Test func chosenValuesAsDataElementStringsJoined() {
        let values: [[UInt8]] = [
            Array("1.2.840.10008.5.1.4.1.1.2".utf8), Array("ABCDEFG\\HIJKLMNO\\P ".utf8), Array("ABCDEFGH\\IJKLMNOP".utf8),
            Array("  12.5\\ -3 \\".utf8), Array("Doe^John^^^\0".utf8), Array("        ".utf8), Array("\\".utf8),
            Array("\\\\ ".utf8), [0x4D, 0xFC, 0x6C, 0x6C, 0x65, 0x72, 0x5C, 0xC5, 0x73, 0x61, 0x20, 0x20],
            Array("Müller^Åsa\\Ødegård ".utf8), Array("a\\\u{301}b\\c ".utf8), Array("Yamada^Tarou=\u{1B}$B;3ED\u{1B}(B^\u{1B}$BB@O:\u{1B}(B".utf8),
            Array("Wang^XiaoDong=王^小東 ".utf8), [0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0xCC, 0x81, 0x5C, 0x20, 0x00],
        ]
        for characterSet in Self.characterSets {
            for vr in Self.vrs {
                for value in values { expectSameText(value, vr, characterSet) }
            }
        }
    }

    /// Random values over the bytes that matter (padding, delimiter, escape, bytes that start
    /// or continue UTF-8 sequences below and above U+0300), of every length up to 40.
    @Test func randomValuesAsDataElementStringsJoined() {
        let alphabet: [UInt8] = [0x20, 0x00, 0x5C, 0x41, 0x31, 0x1B, 0xE9, 0xC3, 0xA9, 0xCC, 0x81, 0xE7, 0x8E, 0x8B]
        var state: UInt64 = 0x5DEECE66D  // a fixed seed: the same values every run
        for round in 0 ..< 4000 {
            var bytes: [UInt8] = []
            for _ in 0 ..< round % 41 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                bytes.append(alphabet[Int(state >> 33) % alphabet.count])
            }
            expectSameText(bytes, Self.vrs[round % Self.vrs.count], Self.characterSets[(round / 7) % Self.characterSets.count])
        }
    }

    /// A thread's cache remembers each attribute's last text: a record must get the search
    /// values of its own text, also when it differs from the last one in a byte only, and the
    /// same ones as without a cache.
    @Test func recentSearchValuesFollowTheText() throws {
        let cache = SearchValueCache()
        let names = ["Doe^Jane", "Doe^John", "Doe^John", nil, "Doe^John", "Roe^Jane", "Roe^Jane=ロー^ジェーン"]
        for (n, name) in names.enumerated() {
            var values = ["StudyTime": n % 2 == 0 ? "101010" : "101011", "OperatorsName": "Smith^A\\Jones^B"]
            values["PatientName"] = name
            let instance = TestInstance(study: "1.\(n)", series: "1.\(n).1", sop: "1.\(n).1.1", values)
            let cached = try instance.record(cache: cache), fresh = try instance.record()
            #expect(cached.studyValues == fresh.studyValues, "\(name ?? "no name")")
            #expect(cached.seriesValues == fresh.seriesValues)
            #expect(cached.instanceValues == fresh.instanceValues)
        }
    }
}
