import Testing
@testable import DicomCore

/// The shortcuts the parser takes (one dictionary search per implicit element, appending
/// elements that arrive in order, the first string without the others) give what the general
/// functions give.
@Suite struct ParserFastPathTests {
    @Test func impliedVRAgreesWithTheSeparateLookUps() {
        var tags = dictionaryTags.map { Tag(rawValue: $0) }
        tags += [
            Tag(0x0008, 0x0000), Tag(0x0010, 0x0000), Tag(0x7FE0, 0x0000),  // group lengths
            Tag(0x0009, 0x0010), Tag(0x0029, 0x00FF), Tag(0x0029, 0x0001),  // private creators, private
            Tag(0x0029, 0x1010), Tag(0x7FE1, 0x1001), Tag(0xFFFF, 0xFFFF),
            Tag(0x6002, 0x3000), Tag(0x6000, 0x0010), Tag(0x5002, 0x0005),  // repeating groups
            Tag(0x0008, 0x0001), Tag(0x0040, 0xFFFF),  // public, not in the dictionary
        ]
        var ambiguous = 0
        for tag in tags {
            let implied = DataDictionary.impliedVR(for: tag)
            #expect(implied.vr == DataDictionary.implicitVR(for: tag), "\(tag)")
            #expect(implied.isAmbiguous == DataDictionary.hasAmbiguousVR(tag), "\(tag)")
            if implied.isAmbiguous { ambiguous += 1 }
        }
        #expect(DataDictionary.impliedVR(for: Tag(0x0028, 0x0106)) == (.US, true))  // US or SS
        #expect(ambiguous > 20)
    }

    @Test func setKeepsTagOrderWhateverTheArrivalOrder() {
        var dataSet = DataSet()
        let tags = [Tag(0x0010, 0x0010), Tag(0x0008, 0x0018), Tag(0x0020, 0x000D), Tag(0x0008, 0x0016),
                    Tag(0x7FE0, 0x0010), Tag(0x0008, 0x0005), Tag(0x0010, 0x0020)]
        for (i, tag) in tags.enumerated() {
            dataSet.set(DataElement(tag: tag, vr: .LO, bytes: Array("v\(i)".utf8)))
        }
        #expect(dataSet.elements.map(\.tag) == tags.sorted())
        // A later duplicate replaces, in place, whether it is the last element or not.
        dataSet.set(DataElement(tag: Tag(0x0010, 0x0010), vr: .PN, bytes: Array("Doe^J".utf8)))
        dataSet.set(DataElement(tag: Tag(0x7FE0, 0x0010), vr: .OW, bytes: [1, 2]))
        #expect(dataSet.count == tags.count)
        #expect(dataSet.elements.map(\.tag) == tags.sorted())
        #expect(dataSet.string(Tag(0x0010, 0x0010)) == "Doe^J")
        #expect(dataSet[Tag(0x7FE0, 0x0010)]?.vr == .OW)
        // The character set is taken from (0008,0005) even when it arrives out of order.
        dataSet.set(DataElement(tag: .specificCharacterSet, vr: .CS, bytes: Array("ISO_IR 192".utf8)))
        #expect(dataSet.characterSet == SpecificCharacterSet(terms: ["ISO_IR 192"]))
    }

    @Test func firstStringIsTheFirstOfStrings() {
        let values: [(VR, [UInt8])] = [
            (.UI, Array("1.2.840.10008.1.2.1\0".utf8)),
            (.CS, Array("ORIGINAL\\PRIMARY\\AXIAL ".utf8)),
            (.CS, Array("\\SECOND".utf8)),
            (.DS, Array("  2.5 \\-1".utf8)),
            (.IS, Array(" 12 ".utf8)),
            (.AE, Array(" STORESCP ".utf8)),
            (.LO, Array(" leading kept ".utf8)),
            (.LT, Array("one \\ value  ".utf8)),
            (.UT, Array("\0".utf8)),
            (.PN, Array("Müller^Jürgen\\Other".utf8)),
            (.PN, [0x1B, 0x24, 0x42, 0x3B, 0x33, 0x1B, 0x28, 0x42, 0x5C, 0x41]),
            (.SH, Array("   ".utf8)),
            (.SH, []),
            (.US, [1, 0]),
        ]
        for characterSet in [SpecificCharacterSet.default, SpecificCharacterSet(terms: ["ISO_IR 192"]),
                             SpecificCharacterSet(terms: ["", "ISO 2022 IR 87"])] {
            for (vr, bytes) in values {
                let element = DataElement(tag: Tag(0x0011, 0x1001), vr: vr, bytes: bytes)
                let expected = element.strings(characterSet: characterSet)?.first
                #expect(element.firstString(characterSet: characterSet) == expected, "\(vr) \(bytes)")
                var dataSet = DataSet(characterSet: characterSet)
                dataSet.set(element)
                #expect(dataSet.string(element.tag) == expected)
            }
        }
        #expect(DataElement(tag: Tag(0x0008, 0x0008), vr: .CS, bytes: Array("A \\B".utf8)).firstString(characterSet: .default) == "A")
        #expect(DataSet().string(.sopInstanceUID) == nil)
    }

    @Test func intReadsOneNumberAsIntsDoes() {
        let cases: [(VR, [UInt8])] = [
            (.US, [0x34, 0x12]), (.US, [0xFF, 0xFF, 1, 0]), (.US, [7]), (.US, []),
            (.SS, [0xFE, 0xFF]), (.SS, [0x00, 0x80]),
            (.UL, [1, 2, 3, 4]), (.UL, [0xFF, 0xFF, 0xFF, 0xFF]), (.UL, [1, 2, 3]),
            (.SL, [0xFF, 0xFF, 0xFF, 0xFF]), (.SL, [0, 0, 0, 0x80, 5, 0, 0, 0]),
            (.IS, Array(" 42 ".utf8)), (.DS, Array("2.0".utf8)), (.SV, [0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
        ]
        for bigEndian in [false, true] {
            for (vr, bytes) in cases {
                var dataSet = DataSet(isBigEndian: bigEndian)
                dataSet.set(DataElement(tag: Tag(0x0028, 0x0103), vr: vr, bytes: bytes))
                #expect(dataSet.int(Tag(0x0028, 0x0103)) == dataSet.ints(Tag(0x0028, 0x0103))?.first, "\(vr) \(bytes) \(bigEndian)")
            }
        }
        var big = DataSet(isBigEndian: true)
        big.set(DataElement(tag: Tag(0x0028, 0x0010), vr: .US, bytes: [0x02, 0x00]))
        big.set(DataElement(tag: Tag(0x0018, 0x6020), vr: .SL, bytes: [0xFF, 0xFF, 0xFF, 0xFE]))
        #expect(big.int(Tag(0x0028, 0x0010)) == 512)
        #expect(big.int(Tag(0x0018, 0x6020)) == -2)
    }

    @Test func characterSetFollowsEachValueWhateverCameBefore() {
        let sequence: [(VR, String, [String])] = [
            (.CS, "ISO_IR 100", ["ISO_IR 100"]),
            (.CS, "ISO_IR 192", ["ISO_IR 192"]),
            (.CS, "ISO_IR 100", ["ISO_IR 100"]),
            (.UN, "ISO_IR 100", []),  // not text: the default repertoire
            (.CS, "\\ISO 2022 IR 87 ", ["", "ISO 2022 IR 87"]),
            (.CS, "", []),
        ]
        for (vr, text, terms) in sequence + sequence {
            var dataSet = DataSet()
            dataSet.set(DataElement(tag: .specificCharacterSet, vr: vr, bytes: Array(text.utf8)))
            #expect(dataSet.characterSet.terms == terms, "\(vr) \(text)")
        }
    }

    @Test func dictionarySearchFindsEveryTagAndOnlyThose() throws {
        let known = Set(dictionaryTags)
        var probes = dictionaryTags
        for raw in dictionaryTags { probes += [raw &- 1, raw &+ 1] }
        probes += [0, 1, 0xFFFF_FFFF]
        var absent = 0
        for raw in probes {
            let tag = Tag(rawValue: raw)
            if known.contains(raw) {
                // Found in the integer table: the text table's row of the same index has this tag.
                let entry = try #require(DataDictionary.entry(for: tag), "\(tag)")
                #expect(entry.tag == tag)
                #expect(DataDictionary.impliedVR(for: tag).vr == entry.vr || tag.isPrivateCreator)
            } else if !tag.isPrivate, tag.element != 0 {
                // Absent: only a repeating group may answer, and then it is not a table row.
                let entry = DataDictionary.entry(for: tag)
                #expect(entry == nil || !known.contains(entry!.tag.rawValue))
                absent += 1
            }
        }
        #expect(absent > 1000)
    }

    @Test func everyTwoByteVRCodeDecodesAsItsLetters() {
        var named = 0
        for byte0 in UInt8.min...UInt8.max {
            for byte1 in UInt8.min...UInt8.max {
                let letters = String(decoding: [byte0, byte1], as: UTF8.self)
                let expected = byte0 < 0x80 && byte1 < 0x80 ? VR(rawValue: letters) : nil
                #expect(VR(byte0: byte0, byte1: byte1) == expected)
                if expected != nil { named += 1 }
            }
        }
        #expect(named == VR.allCases.count)
    }
}
