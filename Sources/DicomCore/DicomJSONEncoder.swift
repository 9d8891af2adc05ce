/// How binary values (OB OD OF OL OV OW UN, pixel data) appear in DICOM JSON.
public struct DicomJSONOptions: Sendable {
    /// Values of at most this many bytes are written inline as base64.
    public var inlineThreshold: Int = 1024
    /// Names the BulkDataURI of a larger value; when nil, or when it returns nil, the value is
    /// left out (the VR alone is written).
    public var bulkDataURI: (@Sendable (DataElement) -> String?)?
    /// Pixel Data, Float Pixel Data and Double Float Pixel Data, at any depth, are always by
    /// reference whatever their length (WADO-RS metadata): `bulkDataURI` names them, or they are
    /// left out.
    public var pixelDataByReference = false
    /// Loads values the parser left in the source, so they can be inlined.
    public var loadValue: (@Sendable (DataElement) throws -> [UInt8])?
    public var pretty = false

    public init(inlineThreshold: Int = 1024, pretty: Bool = false) {
        self.inlineThreshold = inlineThreshold
        self.pretty = pretty
    }
}

/// The DICOM JSON Model encoder (PS3.18 Annex F.2): keys are 8 uppercase hex digits in
/// ascending order; PN as Alphabetic/Ideographic/Phonetic; IS, DS and binary numbers as JSON
/// numbers; AT as hex strings; sequences nested.
public struct DicomJSONEncoder {
    public var options: DicomJSONOptions
    public init(options: DicomJSONOptions = DicomJSONOptions()) { self.options = options }

    public func encode(_ dataSet: DataSet) throws -> String {
        var out = JSONWriter(pretty: options.pretty)
        try write(dataSet, to: &out)
        return out.string
    }

    public func write(_ dataSet: DataSet, to out: inout JSONWriter) throws {
        out.beginObject()
        for element in dataSet.elements {
            out.key(tag: element.tag)
            try write(element, in: dataSet, to: &out)
        }
        out.endObject()
    }

    private func write(_ element: DataElement, in dataSet: DataSet, to out: inout JSONWriter) throws {
        out.beginObject()
        out.key(ascii: "vr")
        out.string(element.vr.rawValue)
        switch element.value {
        case .sequence(let items):
            out.key(ascii: "Value")
            out.beginArray()
            for item in items { try write(item, to: &out) }
            out.endArray()
        case .encapsulated, .bulk:
            try writeBinary(element, to: &out)
        case .bytes(let bytes):
            let vr = element.vr
            if bytes.isEmpty { break }
            if vr.isBinary {
                try writeBinary(element, to: &out)
                break
            }
            // A value of nothing but padding is no value (PS3.18 F.2.5: Value absent).
            if vr.numericWidth == 0 && bytes.allSatisfy({ $0 == 0x20 || $0 == 0 }) { break }
            if vr == .SQ {
                try writeBinary(element, to: &out)
            } else {
                writeValues(element, bytes: bytes, in: dataSet, to: &out)
            }
        }
        out.endObject()
    }

    private func writeBinary(_ element: DataElement, to out: inout JSONWriter) throws {
        if options.pixelDataByReference, element.tag.isPixelData {
            switch element.value {
            case .bulk, .encapsulated:
                writeURI(element, to: &out)
                return
            case .bytes, .sequence:
                break
            }
        }
        let length: UInt64
        switch element.value {
        case .bytes(let b): length = UInt64(b.count)
        case .bulk(let ref): length = ref.length
        case .encapsulated(let pixels): length = pixels.endOffset - element.valueOffset
        case .sequence: return
        }
        if length == 0 { return }
        if length <= UInt64(options.inlineThreshold) {
            let bytes: [UInt8]
            if case .bytes(let b) = element.value {
                bytes = b
            } else if let load = options.loadValue {
                bytes = try load(element)
            } else {
                return
            }
            out.key(ascii: "InlineBinary")
            out.string(base64(bytes))
        } else {
            writeURI(element, to: &out)
        }
    }

    private func writeURI(_ element: DataElement, to out: inout JSONWriter) {
        guard let uri = options.bulkDataURI?(element) else { return }
        out.key(ascii: "BulkDataURI")
        out.string(uri)
    }

    private func writeValues(_ element: DataElement, bytes: [UInt8], in dataSet: DataSet, to out: inout JSONWriter) {
        let vr = element.vr
        bytes.withUnsafeBufferPointer { buffer in
            switch vr {
            case .AT:
                out.key(ascii: "Value")
                out.beginArray()
                // A tag is two 16-bit numbers, each in the data set's byte order.
                var i = 0
                while i + 4 <= buffer.count {
                    let group = Self.load(buffer, at: i, width: 2, bigEndian: dataSet.isBigEndian)
                    let number = Self.load(buffer, at: i + 2, width: 2, bigEndian: dataSet.isBigEndian)
                    out.string(tag: Tag(rawValue: UInt32(truncatingIfNeeded: group << 16 | number)))
                    i += 4
                }
                out.endArray()
            case .US, .SS, .UL, .SL, .SV, .UV:
                out.key(ascii: "Value")
                out.beginArray()
                let width = vr.numericWidth
                var i = 0
                while i + width <= buffer.count {
                    let raw = Self.load(buffer, at: i, width: width, bigEndian: dataSet.isBigEndian)
                    switch vr {
                    case .SS: out.integer(Int(Int16(truncatingIfNeeded: raw)))
                    case .SL: out.integer(Int(Int32(truncatingIfNeeded: raw)))
                    case .SV: out.integer(Int(Int64(bitPattern: raw)))
                    default: out.integer(raw)
                    }
                    i += width
                }
                out.endArray()
            case .FL, .FD:
                out.key(ascii: "Value")
                out.beginArray()
                for d in BinaryValues.reals(bytes[...], vr: vr, bigEndian: dataSet.isBigEndian) { out.double(d) }
                out.endArray()
            default:
                guard vr.isString else { return }
                // Plain ASCII (no bytes ≥ 0x80, no escape sequences) is what DataElement.strings
                // decodes byte for byte without a character set: written straight from the bytes.
                if buffer.contains(where: { $0 >= 0x80 || $0 == 0x1B }) {
                    writeDecodedValues(element, in: dataSet, to: &out)
                } else {
                    writeASCIIValues(buffer, vr: vr, to: &out)
                }
            }
        }
    }

    /// String values of plain ASCII, split and trimmed as `DataElement.strings` does.
    private func writeASCIIValues(_ buffer: UnsafeBufferPointer<UInt8>, vr: VR, to out: inout JSONWriter) {
        out.key(ascii: "Value")
        out.beginArray()
        var start = 0
        while start <= buffer.count {
            var end = buffer.count
            if !vr.isSingleValuedText, let slash = buffer[start...].firstIndex(of: UInt8(ascii: "\\")) { end = slash }
            var first = start, last = end
            while last > first, buffer[last - 1] == 0x20 || buffer[last - 1] == 0 { last -= 1 }
            // Leading spaces are kept except where they cannot be meant (as pydicom does).
            if vr == .AE || vr == .DS || vr == .IS {
                while first < last, buffer[first] == 0x20 { first += 1 }
            }
            let value = UnsafeBufferPointer(rebasing: buffer[first..<last])
            switch vr {
            case .IS, .DS: out.numberText(ascii: value, integer: vr == .IS)
            case .PN: writePersonName(value, to: &out)
            default: out.string(utf8: value)
            }
            start = end + 1
        }
        out.endArray()
    }

    /// One PN value of ASCII: its component groups as Alphabetic, Ideographic and Phonetic.
    private func writePersonName(_ value: UnsafeBufferPointer<UInt8>, to out: inout JSONWriter) {
        if value.isEmpty { out.null(); return }
        out.beginObject()
        var start = 0
        for (i, name) in Self.personNameGroups.enumerated() {
            guard start <= value.count else { break }
            let end = value[start...].firstIndex(of: UInt8(ascii: "=")) ?? value.count
            // Empty Ideographic and Phonetic groups are left out; Alphabetic is always there.
            if i == 0 || end > start {
                out.key(ascii: name)
                out.string(utf8: UnsafeBufferPointer(rebasing: value[start..<end]))
            }
            start = end + 1
        }
        out.endObject()
    }

    private static let personNameGroups: [StaticString] = ["Alphabetic", "Ideographic", "Phonetic"]

    /// String values that need their character set: decoded to Strings first.
    private func writeDecodedValues(_ element: DataElement, in dataSet: DataSet, to out: inout JSONWriter) {
        let vr = element.vr
        // IS and DS are in the default repertoire whatever the data set says.
        guard let values = element.strings(characterSet: vr == .IS || vr == .DS ? .default : dataSet.characterSet) else { return }
        out.key(ascii: "Value")
        out.beginArray()
        for value in values {
            switch vr {
            case .IS, .DS:
                out.numberText(value, integer: vr == .IS)
            case .PN:
                if value.isEmpty { out.null(); continue }
                let groups = value.split(separator: "=", omittingEmptySubsequences: false)
                out.beginObject()
                for (i, (name, group)) in zip(Self.personNameGroups, groups).enumerated() where i == 0 || !group.isEmpty {
                    out.key(ascii: name)
                    out.string(String(group))
                }
                out.endObject()
            default:
                out.string(value)
            }
        }
        out.endArray()
    }

    @inline(__always)
    private static func load(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int, width: Int, bigEndian: Bool) -> UInt64 {
        var value: UInt64 = 0
        if bigEndian {
            for i in 0..<width { value = value << 8 | UInt64(bytes[offset + i]) }
        } else {
            for i in stride(from: width - 1, through: 0, by: -1) { value = value << 8 | UInt64(bytes[offset + i]) }
        }
        return value
    }
}

/// Base64 (RFC 4648) without line breaks.
public func base64(_ bytes: [UInt8]) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    var out = [UInt8]()
    out.reserveCapacity((bytes.count + 2) / 3 * 4)
    var i = 0
    while i + 2 < bytes.count {
        let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
        out.append(alphabet[Int(n >> 18 & 63)]); out.append(alphabet[Int(n >> 12 & 63)])
        out.append(alphabet[Int(n >> 6 & 63)]); out.append(alphabet[Int(n & 63)])
        i += 3
    }
    let rest = bytes.count - i
    if rest > 0 {
        let n = UInt32(bytes[i]) << 16 | (rest > 1 ? UInt32(bytes[i + 1]) << 8 : 0)
        out.append(alphabet[Int(n >> 18 & 63)]); out.append(alphabet[Int(n >> 12 & 63)])
        out.append(rest > 1 ? alphabet[Int(n >> 6 & 63)] : UInt8(ascii: "="))
        out.append(UInt8(ascii: "="))
    }
    return String(decoding: out, as: UTF8.self)
}
