import Testing
@testable import DicomCore

// Swift Testing has a Tag type of its own.
typealias Tag = DicomCore.Tag

@Suite struct TagAndDictionaryTests {
    @Test func parsesEveryTagForm() {
        let expected = Tag(0x0010, 0x0010)
        for text in ["(0010,0010)", "0010,0010", "00100010", "PatientName", " PatientName "] {
            #expect(Tag(parsing: text) == expected, "\(text)")
        }
        #expect(Tag(parsing: "(7fe0,0010)") == .pixelData)
        #expect(Tag(parsing: "NoSuchKeyword") == nil)
        #expect(Tag(parsing: "0010,001") == nil)
        #expect(Tag(parsing: "001,00010") == nil)
        #expect(Tag(parsing: "") == nil)
    }

    @Test func formatsTags() {
        let tag = Tag(0x7FE0, 0x0010)
        #expect(tag.description == "(7FE0,0010)")
        #expect(tag.hexString == "7FE00010")
        #expect(Tag(0x0029, 0x1010).privateCreatorTag == Tag(0x0029, 0x0010))
        #expect(Tag(0x0029, 0x0010).isPrivateCreator)
        #expect(!Tag(0x0028, 0x0010).isPrivate)
        #expect(Tag(0x0008, 0x0020) < Tag(0x0008, 0x0030))
    }

    @Test func looksUpDictionaryEntries() throws {
        let rows = try #require(DataDictionary.entry(for: .rows))
        #expect(rows.keyword == "Rows")
        #expect(rows.vr == .US)
        #expect(rows.vm == "1")
        #expect(!rows.isRetired)
        let pixel = try #require(DataDictionary.entry(keyword: "PixelData"))
        #expect(pixel.tag == .pixelData)
        #expect(pixel.allowedVRs == [.OB, .OW])
        let smallest = try #require(DataDictionary.entry(for: Tag(0x0028, 0x0106)))
        #expect(smallest.allowedVRs == [.US, .SS])
        // Newer VRs are in the table.
        #expect(DataDictionary.entry(keyword: "ExtendedOffsetTable")?.vr == .OV)
        #expect(DataDictionary.entry(keyword: "SelectorUVValue")?.vr == .UV)
    }

    @Test func integerTableAgreesWithTheTextTable() throws {
        // The parser's look-ups use the integer arrays, names come from the text table.
        #expect(dictionaryTags.count == dictionaryVRCodes.count)
        #expect(dictionaryTags == dictionaryTags.sorted())
        for i in stride(from: 0, to: dictionaryTags.count, by: 97) {
            let tag = Tag(rawValue: dictionaryTags[i])
            let entry = try #require(DataDictionary.entry(for: tag))
            #expect(entry.tag == tag)
            #expect(DataDictionary.implicitVR(for: tag) == entry.vr || tag.isPrivateCreator)
            #expect(DataDictionary.hasAmbiguousVR(tag) == (entry.allowedVRs.count > 1))
        }
    }

    @Test func resolvesRepeatingGroupsAndGroupLengths() throws {
        let overlay = try #require(DataDictionary.entry(for: Tag(0x6002, 0x3000)))
        #expect(overlay.keyword == "OverlayData")
        #expect(overlay.tag == Tag(0x6002, 0x3000))
        #expect(DataDictionary.implicitVR(for: Tag(0x0009, 0x0010)) == .LO)  // private creator
        #expect(DataDictionary.implicitVR(for: Tag(0x0009, 0x1001)) == .UN)  // private, unknown
        #expect(DataDictionary.implicitVR(for: Tag(0x0008, 0x0000)) == .UL)  // group length
    }

    @Test func knowsUIDsAndValidatesThem() {
        #expect(UIDRegistry.name(for: "1.2.840.10008.1.2.1") == "Explicit VR Little Endian")
        #expect(UIDRegistry.entry(for: "1.2.840.10008.5.1.4.1.1.2")?.keyword == "CTImageStorage")
        #expect(UIDRegistry.isValid("1.2.840.10008.1.2"))
        #expect(UIDRegistry.isValid("2.25.0"))
        for bad in ["", "1..2", "1.2.", ".1", "1.02", "1.2a", String(repeating: "1", count: 65)] {
            #expect(!UIDRegistry.isValid(bad), "\(bad)")
        }
    }

    @Test func classifiesTransferSyntaxes() {
        #expect(!TransferSyntax.implicitVRLittleEndian.isExplicitVR)
        #expect(TransferSyntax.explicitVRBigEndian.isBigEndian)
        #expect(TransferSyntax.deflatedExplicitVRLittleEndian.isDeflated)
        let jpeg = TransferSyntax(uid: "1.2.840.10008.1.2.4.50")
        #expect(jpeg.isEncapsulated && jpeg.isExplicitVR && !jpeg.isBigEndian)
        #expect(!TransferSyntax.explicitVRLittleEndian.isEncapsulated)
    }

    @Test func vrProperties() {
        #expect(VR(byte0: 0x4F, byte1: 0x56) == .OV)
        #expect(VR(byte0: 0x00, byte1: 0x00) == nil)
        #expect(VR(byte0: 0x5A, byte1: 0x5A) == nil)
        for vr in [VR.OB, .OD, .OF, .OL, .OV, .OW, .SQ, .SV, .UC, .UN, .UR, .UT, .UV] { #expect(vr.hasLongLength, "\(vr)") }
        for vr in [VR.AE, .US, .FD, .PN, .DS, .LT] { #expect(!vr.hasLongLength, "\(vr)") }
        #expect(VR.allCases.count == 34)
    }
}
