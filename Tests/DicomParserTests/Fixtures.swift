import DicomCore
import DicomDeflate
@testable import DicomParser

// Swift Testing has a Tag type of its own.
typealias Tag = DicomCore.Tag

/// Builds element bytes by hand, for the encodings and defects the writer never produces.
struct ByteBuilder {
    var bytes: [UInt8] = []
    var bigEndian = false

    mutating func u16(_ v: UInt16) { bytes += bigEndian ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)] }
    mutating func u32(_ v: UInt32) {
        if bigEndian { u16(UInt16(v >> 16)); u16(UInt16(v & 0xFFFF)) } else { u16(UInt16(v & 0xFFFF)); u16(UInt16(v >> 16)) }
    }
    mutating func tag(_ t: Tag) { u16(t.group); u16(t.element) }

    /// Explicit VR element with a defined length.
    mutating func explicit(_ t: Tag, _ vr: VR, _ value: [UInt8]) {
        tag(t)
        bytes += Array(vr.rawValue.utf8)
        if vr.hasLongLength { bytes += [0, 0]; u32(UInt32(value.count)) } else { u16(UInt16(value.count)) }
        bytes += value
    }

    mutating func explicit(_ t: Tag, _ vr: VR, _ text: String) { explicit(t, vr, padded(text, vr)) }

    mutating func implicit(_ t: Tag, _ value: [UInt8]) {
        tag(t); u32(UInt32(value.count)); bytes += value
    }

    /// Explicit VR header with an undefined length (SQ, OB pixel data, UN).
    mutating func undefinedLengthHeader(_ t: Tag, _ vr: VR, explicit: Bool = true) {
        tag(t)
        if explicit { bytes += Array(vr.rawValue.utf8) + [0, 0] }
        u32(0xFFFF_FFFF)
    }

    mutating func item(length: UInt32 = 0xFFFF_FFFF) { tag(.item); u32(length) }
    mutating func itemDelimiter() { tag(.itemDelimitation); u32(0) }
    mutating func sequenceDelimiter() { tag(.sequenceDelimitation); u32(0) }
}

func padded(_ text: String, _ vr: VR) -> [UInt8] {
    var b = Array(text.utf8)
    if b.count % 2 == 1 { b.append(vr.paddingByte) }
    return b
}

/// A Part 10 header (preamble, DICM, minimal meta) for `syntax`.
func part10Header(syntax: String) -> [UInt8] {
    var meta = ByteBuilder()
    meta.explicit(.fileMetaInformationVersion, .OB, [0, 1])
    meta.explicit(.mediaStorageSOPClassUID, .UI, "1.2.840.10008.5.1.4.1.1.7")
    meta.explicit(.mediaStorageSOPInstanceUID, .UI, "1.2.3.4")
    meta.explicit(.transferSyntaxUID, .UI, syntax)
    var out = [UInt8](repeating: 0, count: 128) + Array("DICM".utf8)
    var length = ByteBuilder()
    length.explicit(.fileMetaInformationGroupLength, .UL, [UInt8(meta.bytes.count), 0, 0, 0])
    out += length.bytes + meta.bytes
    return out
}

func read(_ bytes: [UInt8], strict: Bool = false, stopBefore: Tag? = nil) throws -> DicomFile {
    var options = ParseOptions(stopBefore: stopBefore, strict: strict, deflate: ZlibDeflateCodec())
    options.bulkThreshold = 256
    return try DicomReader(options: options).read(from: MemoryByteSource(name: "test.dcm", bytes: bytes))
}

func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
func le32(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24 & 0xFF)] }

/// A data set with one element of every VR of the current standard, a nested sequence (with a
/// character set inherited by its item) and native pixel data.
func everyVRDataSet() -> DataSet {
    func text(_ tag: Tag, _ vr: VR, _ s: String) -> DataElement { DataElement(tag: tag, vr: vr, bytes: padded(s, vr)) }
    var item = DataSet(characterSet: SpecificCharacterSet(terms: ["ISO_IR 192"]))
    item.set(text(Tag(0x0008, 0x1150), .UI, "1.2.840.10008.5.1.4.1.1.2"))
    item.set(text(Tag(0x0008, 0x1155), .UI, "1.2.3.4.5"))
    item.set(text(Tag(0x0008, 0x0104), .LO, "Größe"))
    var elements: [DataElement] = [
        text(.specificCharacterSet, .CS, "ISO_IR 192"),
        text(Tag(0x0008, 0x0008), .CS, "ORIGINAL\\PRIMARY"),
        text(.sopClassUID, .UI, "1.2.840.10008.5.1.4.1.1.2"),
        text(.sopInstanceUID, .UI, "1.2.3.4"),
        text(Tag(0x0008, 0x0020), .DA, "20240131"),
        text(Tag(0x0008, 0x0030), .TM, "235959.123456"),
        text(Tag(0x0008, 0x002A), .DT, "20240131235959.5+0100"),
        text(Tag(0x0008, 0x0050), .SH, "ACC-1"),
        text(Tag(0x0008, 0x0054), .AE, "STORESCP"),
        text(Tag(0x0008, 0x0119), .UC, String(repeating: "long code value ", count: 10)),
        text(Tag(0x0008, 0x0120), .UR, "https://example.org/a\\b"),
        text(Tag(0x0008, 0x0090), .PN, "Müller^Jürgen=ミュラー^ユルゲン"),
        text(Tag(0x0008, 0x1030), .LO, "Étude"),
        text(Tag(0x0010, 0x1010), .AS, "042Y"),
        text(Tag(0x0010, 0x4000), .LT, "line one\r\nline two \\ with backslash"),
        text(Tag(0x0018, 0x0050), .DS, "2.5\\-1.25e2"),
        text(Tag(0x0020, 0x0013), .IS, "-12"),
        text(Tag(0x0008, 0x0081), .ST, "short text"),
        text(Tag(0x0040, 0xA160), .UT, String(repeating: "unlimited text ", count: 30)),
        DataElement(tag: Tag(0x0008, 0x1140), vr: .SQ, value: .sequence([item, DataSet()])),
        DataElement(tag: Tag(0x0018, 0x9089), vr: .FD, bytes: [0, 0, 0, 0, 0, 0, 0xF8, 0x3F, 0, 0, 0, 0, 0, 0, 0, 0xC0]),
        DataElement(tag: Tag(0x0018, 0x9219), vr: .SS, bytes: le16(-5 & 0xFFFF)),
        DataElement(tag: Tag(0x0018, 0x1310), vr: .US, bytes: le16(1) + le16(2) + le16(65535) + le16(0)),
        DataElement(tag: Tag(0x0018, 0x6020), vr: .SL, bytes: le32(-100000 & 0xFFFF_FFFF)),
        DataElement(tag: Tag(0x0010, 0x9431), vr: .FL, bytes: [0, 0, 0x20, 0x40]),
        DataElement(tag: Tag(0x0020, 0x9165), vr: .AT, bytes: le16(0x0010) + le16(0x0020)),
        DataElement(tag: Tag(0x0028, 0x0002), vr: .US, bytes: le16(1)),
        DataElement(tag: Tag(0x0028, 0x0010), vr: .US, bytes: le16(2)),
        DataElement(tag: Tag(0x0028, 0x0011), vr: .US, bytes: le16(3)),
        DataElement(tag: Tag(0x0028, 0x0100), vr: .US, bytes: le16(16)),
        DataElement(tag: Tag(0x0028, 0x1201), vr: .OW, bytes: le16(1) + le16(2)),
        DataElement(tag: Tag(0x0066, 0x0016), vr: .OF, bytes: [0, 0, 0x80, 0x3F]),
        DataElement(tag: Tag(0x0066, 0x0040), vr: .OL, bytes: le32(7) + le32(8)),
        DataElement(tag: Tag(0x7FE0, 0x0001), vr: .OV, bytes: [1, 0, 0, 0, 0, 0, 0, 0x80]),
        DataElement(tag: Tag(0x0066, 0x0022), vr: .OD, bytes: [0, 0, 0, 0, 0, 0, 0xF0, 0x3F]),
        DataElement(tag: Tag(0x0072, 0x0082), vr: .SV, bytes: [0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
        DataElement(tag: Tag(0x0072, 0x0083), vr: .UV, bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
        DataElement(tag: Tag(0x0009, 0x0010), vr: .LO, bytes: padded("DWC TEST", .LO)),
        DataElement(tag: Tag(0x0009, 0x1001), vr: .UN, bytes: [1, 2, 3, 4]),
        DataElement(tag: .pixelData, vr: .OW, bytes: le16(100) + le16(200) + le16(300) + le16(400) + le16(500) + le16(600)),
    ]
    elements.append(DataElement(tag: Tag(0x0008, 0x0016), vr: .UI, bytes: padded("1.2.840.10008.5.1.4.1.1.2", .UI)))
    return DataSet(elements: elements)
}
