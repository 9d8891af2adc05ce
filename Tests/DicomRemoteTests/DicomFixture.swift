/// A Part 10 file (Explicit VR Little Endian) whose header holds `headerBytes` of small
/// private elements (64-byte LO values, as a many-attribute header is read element by
/// element), then native 16-bit pixel data of `rows` × `columns`.
func largeHeaderDicom(headerBytes: Int, rows: Int = 256, columns: Int = 256) -> (file: [UInt8], pixelOffset: Int) {
    var meta: [UInt8] = []
    func element(_ out: inout [UInt8], _ group: UInt16, _ elem: UInt16, _ vr: String, _ value: [UInt8]) {
        out += le16(Int(group)) + le16(Int(elem)) + Array(vr.utf8)
        if ["OB", "OW", "SQ", "UN", "UT"].contains(vr) { out += [0, 0] + le32(value.count) } else { out += le16(value.count) }
        out += value
    }
    func text(_ s: String, pad: UInt8 = 0x20) -> [UInt8] { var b = Array(s.utf8); if b.count % 2 == 1 { b.append(pad) }; return b }
    element(&meta, 0x0002, 0x0001, "OB", [0, 1])
    element(&meta, 0x0002, 0x0002, "UI", text("1.2.840.10008.5.1.4.1.1.7", pad: 0))
    element(&meta, 0x0002, 0x0003, "UI", text("1.2.3.4.5.6.7", pad: 0))
    element(&meta, 0x0002, 0x0010, "UI", text("1.2.840.10008.1.2.1", pad: 0))
    var file = [UInt8](repeating: 0, count: 128) + Array("DICM".utf8)
    element(&file, 0x0002, 0x0000, "UL", le32(meta.count))
    file += meta
    element(&file, 0x0008, 0x0016, "UI", text("1.2.840.10008.5.1.4.1.1.7", pad: 0))
    element(&file, 0x0008, 0x0018, "UI", text("1.2.3.4.5.6.7", pad: 0))
    element(&file, 0x0010, 0x0010, "PN", text("REMOTE^TEST"))
    // Private groups 0x0009, 0x000B, …: a creator and up to 256 elements each.
    var group: UInt16 = 0x0009
    var index = 0
    while file.count < headerBytes {
        if index == 0 { element(&file, group, 0x0010, "LO", text("DWC REMOTE TEST")) }
        element(&file, group, 0x1000 + UInt16(index), "LO", text(String(repeating: "V", count: 60) + String(format4(index))))
        index += 1
        if index == 256 { index = 0; group += 2 }
    }
    element(&file, 0x0028, 0x0002, "US", le16(1))
    element(&file, 0x0028, 0x0004, "CS", text("MONOCHROME2"))
    element(&file, 0x0028, 0x0010, "US", le16(rows))
    element(&file, 0x0028, 0x0011, "US", le16(columns))
    element(&file, 0x0028, 0x0100, "US", le16(16))
    element(&file, 0x0028, 0x0101, "US", le16(16))
    element(&file, 0x0028, 0x0102, "US", le16(15))
    element(&file, 0x0028, 0x0103, "US", le16(0))
    let pixels = patternBytes(rows * columns * 2, seed: 42)
    element(&file, 0x7FE0, 0x0010, "OW", pixels)
    return (file, file.count - pixels.count)
}

private func format4(_ n: Int) -> String {
    let s = String(n)
    return String(repeating: "0", count: max(0, 4 - s.count)) + s
}

func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
func le32(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24 & 0xFF)] }
