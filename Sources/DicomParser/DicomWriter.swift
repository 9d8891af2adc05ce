import DicomCore

/// Writes data sets as Part 10 files or raw data sets in the native transfer syntaxes (implicit
/// VR LE, explicit VR LE/BE, deflated) and in encapsulated syntaxes when the pixel data already
/// is encapsulated. What DicomReader reads, this writes back with the same values.
public struct DicomWriter: Sendable {
    /// dwc's Implementation Class UID (a 2.25 UUID-derived root, PS3.5 B.2).
    public static let implementationClassUID = "2.25.254378214651235887465324561127362910421"
    public static let implementationVersionName = "DWC_010"

    public var deflate: (any DeflateCodec)?

    public init(deflate: (any DeflateCodec)? = nil) { self.deflate = deflate }

    /// Meta for `dataSet`: version, SOP class and instance from the data set, the syntax, and dwc's
    /// implementation; group length computed when written.
    public static func fileMeta(for dataSet: DataSet, syntax: TransferSyntax, sourceAETitle: String? = nil) -> DataSet {
        var meta = DataSet()
        meta.set(DataElement(tag: .fileMetaInformationVersion, vr: .OB, bytes: [0, 1]))
        meta.set(DataElement(tag: .mediaStorageSOPClassUID, vr: .UI, bytes: uidBytes(dataSet.string(.sopClassUID) ?? "")))
        meta.set(DataElement(tag: .mediaStorageSOPInstanceUID, vr: .UI, bytes: uidBytes(dataSet.string(.sopInstanceUID) ?? "")))
        meta.set(DataElement(tag: .transferSyntaxUID, vr: .UI, bytes: uidBytes(syntax.uid)))
        meta.set(DataElement(tag: .implementationClassUID, vr: .UI, bytes: uidBytes(implementationClassUID)))
        meta.set(DataElement(tag: .implementationVersionName, vr: .SH, bytes: textBytes(implementationVersionName)))
        if let sourceAETitle { meta.set(DataElement(tag: Tag(0x0002, 0x0016), vr: .AE, bytes: textBytes(sourceAETitle))) }
        return meta
    }

    /// A complete Part 10 file: 128-byte preamble, "DICM", meta (explicit VR LE), data set.
    /// `loadValue` supplies values the reader left in the source (bulk references).
    public func part10(dataSet: DataSet, meta: DataSet? = nil, syntax: TransferSyntax,
                       loadValue: ((BulkReference) throws -> [UInt8])? = nil) throws -> [UInt8] {
        var metaSet = meta ?? Self.fileMeta(for: dataSet, syntax: syntax)
        metaSet.set(DataElement(tag: .transferSyntaxUID, vr: .UI, bytes: Self.uidBytes(syntax.uid)))
        metaSet.remove(.fileMetaInformationGroupLength)
        var metaBytes = ByteBuffer(bigEndian: false)
        for element in metaSet.elements { try write(element, explicit: true, into: &metaBytes, sourceBigEndian: false, load: loadValue) }
        var out = [UInt8](repeating: 0, count: 128)
        out.append(contentsOf: "DICM".utf8)
        var lengthElement = ByteBuffer(bigEndian: false)
        try write(DataElement(tag: .fileMetaInformationGroupLength, vr: .UL, bytes: le32(UInt32(metaBytes.bytes.count))),
                  explicit: true, into: &lengthElement, sourceBigEndian: false, load: nil)
        out.append(contentsOf: lengthElement.bytes)
        out.append(contentsOf: metaBytes.bytes)
        out.append(contentsOf: try encode(dataSet, syntax: syntax, loadValue: loadValue))
        return out
    }

    /// The data set alone, in `syntax` (deflated when the syntax says so).
    public func encode(_ dataSet: DataSet, syntax: TransferSyntax, loadValue: ((BulkReference) throws -> [UInt8])? = nil) throws -> [UInt8] {
        var buffer = ByteBuffer(bigEndian: syntax.isBigEndian)
        for element in dataSet.elements {
            try write(element, explicit: syntax.isExplicitVR, into: &buffer, sourceBigEndian: dataSet.isBigEndian, load: loadValue)
        }
        if syntax.isDeflated {
            guard let deflate else {
                throw DicomParserError(.unsupported, source: "<writer>", message: "deflated syntax needs a deflate codec")
            }
            return try deflate.deflate(buffer.bytes)
        }
        return buffer.bytes
    }

    private func write(_ element: DataElement, explicit: Bool, into out: inout ByteBuffer, sourceBigEndian: Bool,
                       load: ((BulkReference) throws -> [UInt8])?) throws {
        switch element.value {
        case .sequence(let items):
            out.header(tag: element.tag, vr: .SQ, length: 0xFFFF_FFFF, explicit: explicit)
            for item in items {
                out.tag(.item); out.u32(0xFFFF_FFFF)
                for child in item.elements {
                    try write(child, explicit: explicit, into: &out, sourceBigEndian: item.isBigEndian, load: load)
                }
                out.tag(.itemDelimitation); out.u32(0)
            }
            out.tag(.sequenceDelimitation); out.u32(0)
        case .encapsulated(let pixels):
            guard let load else {
                throw DicomParserError(.unsupported, source: "<writer>", tag: element.tag, message: "encapsulated pixel data needs its source")
            }
            out.header(tag: element.tag, vr: element.vr == .OW ? .OB : element.vr, length: 0xFFFF_FFFF, explicit: explicit)
            for reference in [pixels.basicOffsetTable] + pixels.fragments {
                let bytes = try load(reference)
                out.tag(.item); out.u32(UInt32(bytes.count + bytes.count % 2))
                out.append(bytes)
                if bytes.count % 2 == 1 { out.append([0]) }
            }
            out.tag(.sequenceDelimitation); out.u32(0)
        case .bytes, .bulk:
            var bytes: [UInt8]
            switch element.value {
            case .bytes(let b): bytes = b
            case .bulk(let ref):
                guard let load else {
                    throw DicomParserError(.unsupported, source: "<writer>", tag: element.tag, message: "value left in the source and no loader given")
                }
                bytes = try load(ref)
            default: bytes = []
            }
            if sourceBigEndian != out.bigEndian { bytes = Self.swapped(bytes, vr: element.vr) }
            if bytes.count % 2 == 1 { bytes.append(element.vr.paddingByte) }
            var vr = element.vr
            // A value too long for a 16-bit length can only be written as UN (PS3.5 §6.2.2).
            if explicit, !vr.hasLongLength, bytes.count > 0xFFFE { vr = .UN }
            guard bytes.count < 0xFFFF_FFFF else {
                throw DicomParserError(.unsupported, source: "<writer>", tag: element.tag, message: "value too long")
            }
            out.header(tag: element.tag, vr: vr, length: UInt32(bytes.count), explicit: explicit)
            out.append(bytes)
        }
    }

    /// Reverses the byte order of each number of a binary value.
    static func swapped(_ bytes: [UInt8], vr: VR) -> [UInt8] {
        byteSwapped(bytes, width: vr == .AT ? 2 : vr.numericWidth)
    }

    public static func uidBytes(_ uid: String) -> [UInt8] {
        var b = Array(uid.utf8)
        if b.count % 2 == 1 { b.append(0) }
        return b
    }

    public static func textBytes(_ text: String) -> [UInt8] {
        var b = Array(text.utf8)
        if b.count % 2 == 1 { b.append(0x20) }
        return b
    }
}

func le32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)] }

/// Accumulates encoded elements in one byte order.
struct ByteBuffer {
    var bytes: [UInt8] = []
    let bigEndian: Bool
    init(bigEndian: Bool) { self.bigEndian = bigEndian }

    mutating func append(_ b: [UInt8]) { bytes.append(contentsOf: b) }

    mutating func u16(_ v: UInt16) {
        if bigEndian { bytes += [UInt8(v >> 8), UInt8(v & 0xFF)] } else { bytes += [UInt8(v & 0xFF), UInt8(v >> 8)] }
    }

    mutating func u32(_ v: UInt32) {
        if bigEndian { u16(UInt16(v >> 16)); u16(UInt16(v & 0xFFFF)) } else { u16(UInt16(v & 0xFFFF)); u16(UInt16(v >> 16)) }
    }

    mutating func tag(_ t: Tag) { u16(t.group); u16(t.element) }

    mutating func header(tag t: Tag, vr: VR, length: UInt32, explicit: Bool) {
        tag(t)
        if !explicit { u32(length); return }
        let (a, b) = vr.bytes
        bytes += [a, b]
        if vr.hasLongLength { bytes += [0, 0]; u32(length) } else { u16(UInt16(truncatingIfNeeded: length)) }
    }
}

/// Reverses the byte order of each `width`-byte number (big endian ↔ little endian).
func byteSwapped(_ bytes: [UInt8], width: Int) -> [UInt8] {
    guard width > 1 else { return bytes }
    var out = bytes
    var i = 0
    while i + width <= out.count {
        out[i..<(i + width)].reverse()
        i += width
    }
    return out
}
