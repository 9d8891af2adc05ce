import DicomCore

/// Reads DICOM objects: Part 10 files (preamble, DICM, file meta), meta without preamble, and raw
/// data sets, in every transfer syntax. Lazy: large values stay as references in the source.
public struct DicomReader: Sendable {
    public var options: ParseOptions

    public init(options: ParseOptions = ParseOptions()) { self.options = options }

    public func read(path: String) throws -> DicomFile {
        try read(from: FileByteSource(path: path))
    }

    public func read(from source: any ByteSource) throws -> DicomFile {
        var parser = ElementParser(reader: SourceReader(source: source), options: options)
        return try parser.readFile()
    }
}

/// How one stretch of a data set is encoded.
struct Encoding {
    var explicitVR: Bool
    var bigEndian: Bool
    static let explicitLittle = Encoding(explicitVR: true, bigEndian: false)
    static let implicitLittle = Encoding(explicitVR: false, bigEndian: false)
}

private let undefinedLength: UInt32 = 0xFFFF_FFFF

struct ElementParser {
    var reader: SourceReader
    let options: ParseOptions
    var warnings: [ParseWarning] = []
    var stopOffset: UInt64?
    private var warnedImplicitInExplicit = false
    /// Pixel Representation of each data set being parsed, innermost last: "US or SS" elements
    /// read with an implicit VR take it from the nearest data set that has one.
    private var pixelRepresentations: [Int?] = []
    /// Tags read with an implicit VR whose dictionary entry allows several VRs, per data set.
    private var ambiguousTags: [[Tag]] = []

    init(reader: SourceReader, options: ParseOptions) {
        self.reader = reader
        self.options = options
    }

    var name: String { reader.source.name }

    func error(_ message: String, tag: Tag? = nil, at offset: UInt64? = nil, kind: DicomParserError.Kind = .invalid) -> DicomParserError {
        DicomParserError(kind, source: name, offset: offset ?? reader.position, tag: tag, message: message)
    }

    /// Records a tolerated defect, or throws it in strict mode.
    mutating func defect(_ message: String, tag: Tag? = nil, at offset: UInt64? = nil) throws {
        let at = offset ?? reader.position
        if options.strict { throw error(message, tag: tag, at: at, kind: .defect) }
        if warnings.count < 1000 { warnings.append(ParseWarning(offset: at, tag: tag, message: message)) }
    }

    // MARK: File structure

    mutating func readFile() throws -> DicomFile {
        let source = reader.source
        var preamble: [UInt8]?
        if reader.size >= 132, try reader.peekEquals("DICM", at: 128) {
            preamble = try reader.bytes(128)
            try reader.skip(4)
        } else if reader.size >= 4, try reader.peekEquals("DICM") {
            try defect("file starts with DICM but has no preamble", at: 0)
            try reader.skip(4)
        }

        var meta = DataSet()
        if reader.remaining >= 8, try firstGroup() == 0x0002 {
            meta = try readFileMeta()
        } else if preamble != nil {
            try defect("Part 10 file without file meta information")
        }

        var syntax: TransferSyntax
        var inferred = false
        if let uid = meta.string(.transferSyntaxUID), !uid.isEmpty {
            syntax = TransferSyntax(uid: uid)
        } else {
            let knownDicom = preamble != nil || !meta.isEmpty
            guard let guess = try inferEncoding(knownDicom: knownDicom) else {
                if knownDicom { throw reader.truncated("no data set after the file meta") }
                throw error("not a DICOM file: no preamble, no file meta, no plausible data set", at: 0, kind: .notDicom)
            }
            syntax = guess
            inferred = true
            if preamble != nil || !meta.isEmpty {
                try defect("file meta has no transfer syntax; inferred \(syntax.name)")
            }
        }

        let dataSetOffset = reader.position
        if syntax.isDeflated {
            return try readDeflated(preamble: preamble, meta: meta, syntax: syntax, at: dataSetOffset)
        }

        var encoding = Encoding(explicitVR: syntax.isExplicitVR, bigEndian: syntax.isBigEndian)
        if !inferred, let actual = try checkDeclaredEncoding(encoding) { encoding = actual }
        let dataSet = try parseDataSet(encoding: encoding, end: nil, depth: 0, characterSet: .default, isItem: false)
        return DicomFile(preamble: preamble, fileMeta: meta, dataSet: dataSet, transferSyntax: syntax,
                         transferSyntaxInferred: inferred, dataSetOffset: dataSetOffset, stopOffset: stopOffset,
                         warnings: warnings, source: source)
    }

    private func firstGroup() throws -> UInt16 {
        try reader.peekUInt16()
    }

    /// File meta: explicit VR little endian elements of group 0002. The group length is checked
    /// but not trusted: elements are read while the group is 0002, as pydicom and dcmtk do.
    private mutating func readFileMeta() throws -> DataSet {
        let start = reader.position
        var meta = DataSet()
        meta.reserveCapacity(8)  // typically 6 or 7 elements
        // Fetched once: reading the static in the loop copied it (three retains) per element.
        let characterSet = SpecificCharacterSet.default
        while reader.remaining >= 8, try firstGroup() == 0x0002 {
            guard let element = try parseElement(encoding: .explicitLittle, end: nil, depth: 0, characterSet: characterSet) else { break }
            meta.set(element)
        }
        if let declared = meta.int(.fileMetaInformationGroupLength),
           let lengthElement = meta[.fileMetaInformationGroupLength] {
            let actual = reader.position - lengthElement.valueOffset - 4
            if UInt64(declared) != actual {
                try defect("file meta group length is \(declared) but the group has \(actual) bytes", tag: .fileMetaInformationGroupLength, at: start)
            }
        }
        return meta
    }

    /// Guesses the encoding of a data set that has no meta: explicit if bytes 4-5 are a VR,
    /// big endian if the group only makes sense byte-swapped. Nil when it is not DICOM.
    private func inferEncoding(knownDicom: Bool) throws -> TransferSyntax? {
        guard reader.remaining >= 8 else { return nil }
        let b = try reader.peek(8)
        let groupLE = UInt16(b[0]) | UInt16(b[1]) << 8
        let groupBE = UInt16(b[0]) << 8 | UInt16(b[1])
        let explicit = VR(byte0: b[4], byte1: b[5]) != nil
        if knownDicom {
            // Preamble or meta say it is DICOM: only the encoding is in question.
            return explicit ? (groupLE > 0xFF && groupBE <= 0xFF ? .explicitVRBigEndian : .explicitVRLittleEndian) : .implicitVRLittleEndian
        }
        // A data set starts with a low, even group (0008 typically; 0000-0028 accepted).
        let plausible: (UInt16) -> Bool = { $0 <= 0x0028 && $0 & 1 == 0 }
        if plausible(groupLE) {
            if !explicit {
                // Implicit: the 32-bit length must fit in the object.
                let length = UInt32(b[4]) | UInt32(b[5]) << 8 | UInt32(b[6]) << 16 | UInt32(b[7]) << 24
                guard length == undefinedLength || UInt64(length) <= reader.remaining - 8 else { return nil }
            }
            return explicit ? .explicitVRLittleEndian : .implicitVRLittleEndian
        }
        if plausible(groupBE), explicit { return .explicitVRBigEndian }
        return nil
    }

    /// Files whose meta declares one VR encoding and whose data set uses the other (pydicom and
    /// dcmtk both read them): look at the first element and follow what it says.
    private mutating func checkDeclaredEncoding(_ declared: Encoding) throws -> Encoding? {
        guard reader.remaining >= 8 else { return nil }
        let (b, _) = try reader.contiguous(8)
        let looksExplicit = VR(byte0: b.load(fromByteOffset: 4, as: UInt8.self), byte1: b.load(fromByteOffset: 5, as: UInt8.self)) != nil
        if declared.explicitVR == looksExplicit { return nil }
        if !declared.explicitVR, looksExplicit {
            try defect("transfer syntax is implicit VR but the data set is explicit VR; reading it as explicit")
            return Encoding(explicitVR: true, bigEndian: declared.bigEndian)
        }
        return nil  // explicit declared, implicit found: handled element by element
    }

    private mutating func readDeflated(preamble: [UInt8]?, meta: DataSet, syntax: TransferSyntax, at offset: UInt64) throws -> DicomFile {
        guard let codec = options.deflate else {
            throw error("deflated transfer syntax needs zlib, which this build does not provide", kind: .unsupported)
        }
        guard reader.remaining <= UInt64(Int32.max) else { throw error("deflated data set too large", kind: .unsupported) }
        let compressed = try reader.bytes(Int(reader.remaining))
        let inflated: [UInt8]
        do {
            inflated = try codec.inflate(compressed, limit: options.maxInflatedSize)
        } catch {
            throw self.error("cannot inflate deflated data set: \(error)", at: offset)
        }
        let memory = MemoryByteSource(name: name, bytes: inflated)
        var inner = ElementParser(reader: SourceReader(source: memory), options: options)
        let dataSet = try inner.parseDataSet(encoding: .explicitLittle, end: nil, depth: 0, characterSet: .default, isItem: false)
        return DicomFile(preamble: preamble, fileMeta: meta, dataSet: dataSet, transferSyntax: syntax,
                         transferSyntaxInferred: false, dataSetOffset: 0, stopOffset: inner.stopOffset,
                         warnings: warnings + inner.warnings, source: memory)
    }

    // MARK: Data sets

    /// Parses elements until `end` (defined length), an item delimiter (`isItem`, undefined
    /// length) or the end of the source.
    mutating func parseDataSet(encoding: Encoding, end: UInt64?, depth: Int, characterSet: SpecificCharacterSet, isItem: Bool) throws -> DataSet {
        var dataSet = DataSet(isBigEndian: encoding.bigEndian, characterSet: characterSet)
        // A typical image header has 50-150 top-level elements: grow once, not eight times.
        // Items hold a few: growing from 1 to 8 would cost three reallocations.
        dataSet.reserveCapacity(depth == 0 && !isItem ? 128 : 8)
        pixelRepresentations.append(nil)
        ambiguousTags.append([])
        defer {
            pixelRepresentations.removeLast()
            ambiguousTags.removeLast()
        }
        let topLevel = depth == 0 && !isItem
        while true {
            if let end, reader.position >= end { break }
            if reader.isAtEnd {
                if isItem, end == nil { try defect("item has no item delimiter before the end of the file") }
                break
            }
            let limit = end ?? reader.size
            if limit - reader.position < 8 {
                if end == nil {
                    // Trailing padding after the last element.
                    try defect("\(limit - reader.position) trailing bytes after the last element")
                    reader.seek(to: limit)
                    continue
                }
                throw reader.truncated("element header")
            }
            let elementStart = reader.position
            let tag = try peekTag(bigEndian: encoding.bigEndian)
            if tag.group == 0xFFFE, tag == .itemDelimitation {
                try reader.skip(8)
                if isItem, end == nil { return dataSet }
                try defect("unexpected item delimiter", tag: tag, at: elementStart)
                continue
            }
            if tag.group == 0xFFFE, tag == .sequenceDelimitation {
                if isItem, end == nil {
                    // The item's delimiter is missing; let the sequence see its delimiter.
                    try defect("item ends without an item delimiter", at: elementStart)
                    return dataSet
                }
                try reader.skip(8)
                try defect("unexpected sequence delimiter", tag: tag, at: elementStart)
                continue
            }
            if tag.group == 0xFFFE, tag == .item {
                throw error("item tag outside a sequence", tag: tag, at: elementStart)
            }
            if topLevel, let stop = options.stopBefore, tag >= stop {
                stopOffset = elementStart
                break
            }
            guard let element = try parseElement(encoding: encoding, end: end, depth: depth, characterSet: dataSet.characterSet) else { break }
            let elementTag = element.tag
            dataSet.set(element)
            if elementTag == Tag(0x0028, 0x0103) { pixelRepresentations[pixelRepresentations.count - 1] = dataSet.int(elementTag) }
            if elementTag.group == 0x0008, elementTag == .specificCharacterSet {
                for term in dataSet.characterSet.unknownTerms {
                    try defect("unknown Specific Character Set term '\(term)'; decoding as default repertoire", tag: elementTag, at: elementStart)
                }
            }
        }
        resolveAmbiguousVRs(&dataSet, tags: ambiguousTags.last ?? [])
        return dataSet
    }

    private func peekTag(bigEndian: Bool) throws -> Tag {
        let raw = try reader.peekUInt32()
        if bigEndian {
            let b = raw.byteSwapped  // bytes in file order, most significant first
            return Tag(UInt16(truncatingIfNeeded: b >> 16), UInt16(truncatingIfNeeded: b))
        }
        return Tag(UInt16(truncatingIfNeeded: raw), UInt16(truncatingIfNeeded: raw >> 16))
    }

    /// An element header as read: the tag, the VR (explicit, or implied by the dictionary), the
    /// value length, and whether an implied VR is one of several the dictionary allows.
    private struct ElementHeader {
        var tag: Tag
        var vr: VR
        var length: UInt32
        var explicit: Bool
        var ambiguous: Bool
    }

    /// Decodes the header in place from the reader's window when it holds the whole header (all
    /// but the last few bytes of a window); otherwise reads it field by field, which reports a
    /// header cut off by the end of the source.
    private mutating func readHeader(encoding: Encoding, elementStart: UInt64) throws -> ElementHeader {
        let bigEndian = encoding.bigEndian
        let (bytes, available) = try reader.contiguous(12)
        if available >= 8 {
            let tag = Tag(load16(bytes, 0, bigEndian), load16(bytes, 2, bigEndian))
            if encoding.explicitVR {
                if let vr = VR(byte0: bytes.load(fromByteOffset: 4, as: UInt8.self), byte1: bytes.load(fromByteOffset: 5, as: UInt8.self)) {
                    if !vr.hasLongLength {
                        let length = UInt32(load16(bytes, 6, bigEndian))
                        reader.advance(8)
                        return ElementHeader(tag: tag, vr: vr, length: length, explicit: true, ambiguous: false)
                    }
                    if available >= 12 {
                        let length = load32(bytes, 8, bigEndian)
                        reader.advance(12)
                        return ElementHeader(tag: tag, vr: vr, length: length, explicit: true, ambiguous: false)
                    }
                } else {
                    let length = load32(bytes, 4, bigEndian)
                    reader.advance(8)
                    try warnImplicitInExplicit(tag, at: elementStart)
                    return implicitHeader(tag, length: length)
                }
            } else {
                let length = load32(bytes, 4, bigEndian)
                reader.advance(8)
                return implicitHeader(tag, length: length)
            }
        }
        let tag = Tag(try reader.uint16(bigEndian: bigEndian), try reader.uint16(bigEndian: bigEndian))
        if encoding.explicitVR {
            let vrBytes = try reader.peekUInt16()
            if let vr = VR(byte0: UInt8(truncatingIfNeeded: vrBytes), byte1: UInt8(truncatingIfNeeded: vrBytes >> 8)) {
                try reader.skip(2)
                if vr.hasLongLength {
                    try reader.skip(2)
                    return ElementHeader(tag: tag, vr: vr, length: try reader.uint32(bigEndian: bigEndian), explicit: true, ambiguous: false)
                }
                return ElementHeader(tag: tag, vr: vr, length: UInt32(try reader.uint16(bigEndian: bigEndian)), explicit: true, ambiguous: false)
            }
            try warnImplicitInExplicit(tag, at: elementStart)
        }
        return implicitHeader(tag, length: try reader.uint32(bigEndian: bigEndian))
    }

    private func implicitHeader(_ tag: Tag, length: UInt32) -> ElementHeader {
        let implied = DataDictionary.impliedVR(for: tag)
        return ElementHeader(tag: tag, vr: implied.vr, length: length, explicit: false, ambiguous: implied.isAmbiguous)
    }

    /// Not a VR where an explicit VR data set has one: an implicit VR element. Said once per file.
    private mutating func warnImplicitInExplicit(_ tag: Tag, at offset: UInt64) throws {
        if !warnedImplicitInExplicit {
            warnedImplicitInExplicit = true
            try defect("implicit VR element in an explicit VR data set", tag: tag, at: offset)
        }
    }

    /// Reads one element's header and value. `end` bounds the enclosing item or data set.
    mutating func parseElement(encoding: Encoding, end: UInt64?, depth: Int, characterSet: SpecificCharacterSet) throws -> DataElement? {
        let elementStart = reader.position
        let header = try readHeader(encoding: encoding, elementStart: elementStart)
        let tag = header.tag
        var vr = header.vr
        var length = header.length
        let explicitHere = header.explicit
        if header.ambiguous, !ambiguousTags.isEmpty {
            ambiguousTags[ambiguousTags.count - 1].append(tag)
        }
        let valueOffset = reader.position
        let limit = end ?? reader.size

        if length == undefinedLength {
            if tag == .pixelData || (vr != .SQ && vr != .UN && tag.group == 0x7FE0 && DataDictionary.implicitVR(for: tag) != .SQ) {
                let pixels = try parseEncapsulated(tag: tag, limit: limit)
                return DataElement(tag: tag, vr: vr == .UN ? .OB : vr, value: .encapsulated(pixels), valueOffset: valueOffset, hadUndefinedLength: true)
            }
            // SQ, or UN / other VRs with undefined length: a sequence. UN's content is implicit
            // VR little endian (PS3.5 §6.2.2).
            var itemEncoding = encoding
            if vr == .UN || !explicitHere { itemEncoding = vr == .UN ? .implicitLittle : Encoding(explicitVR: false, bigEndian: encoding.bigEndian) }
            if vr != .SQ, vr != .UN {
                try defect("\(vr) element with undefined length read as a sequence", tag: tag, at: elementStart)
            }
            let items = try parseSequence(encoding: itemEncoding, end: nil, limit: limit, depth: depth + 1, characterSet: characterSet)
            return DataElement(tag: tag, vr: .SQ, value: .sequence(items), valueOffset: valueOffset, hadUndefinedLength: true)
        }

        let available = limit - min(limit, valueOffset)
        if UInt64(length) > available {
            // A value cut off by the end of the file (not of an item) is read as far as it goes,
            // as pydicom does; anything else is corrupt.
            guard end == nil || end == reader.size else {
                throw error("value length \(length) reaches past the end of its item (\(available) bytes left)", tag: tag, at: elementStart)
            }
            try defect("value length \(length) reaches past the end of the file (\(available) bytes left); truncated", tag: tag, at: elementStart)
            length = UInt32(available)
        }

        // UN with a known public VR: re-read as that VR (pydicom's default, and dcmtk's).
        if vr == .UN, !tag.isPrivate, let known = DataDictionary.entry(for: tag), known.vr != .UN, known.allowedVRs.count == 1 {
            vr = known.vr
            if vr == .SQ {
                let items = try parseSequence(encoding: .implicitLittle, end: valueOffset + UInt64(length), limit: limit, depth: depth + 1, characterSet: characterSet)
                return DataElement(tag: tag, vr: .SQ, value: .sequence(items), valueOffset: valueOffset)
            }
        }

        if vr == .SQ {
            let items = try parseSequence(encoding: encoding, end: valueOffset + UInt64(length), limit: limit, depth: depth + 1, characterSet: characterSet)
            return DataElement(tag: tag, vr: .SQ, value: .sequence(items), valueOffset: valueOffset)
        }

        if length & 1 == 1 {
            try defect("odd value length \(length)", tag: tag, at: elementStart)
        }

        let isPixelTag = tag.group == 0x7FE0 && tag.isPixelData
        if isPixelTag || (vr.isBinary && Int(length) > options.bulkThreshold) {
            try reader.skip(UInt64(length))
            return DataElement(tag: tag, vr: vr, value: .bulk(BulkReference(offset: valueOffset, length: UInt64(length))), valueOffset: valueOffset)
        }
        let bytes = try reader.bytes(Int(length))
        return DataElement(tag: tag, vr: vr, value: .bytes(bytes), valueOffset: valueOffset)
    }

    /// Items of a sequence: until `end` (defined length) or the sequence delimiter.
    private mutating func parseSequence(encoding: Encoding, end: UInt64?, limit: UInt64, depth: Int, characterSet: SpecificCharacterSet) throws -> [DataSet] {
        guard depth <= options.maxDepth else { throw error("sequences nested deeper than \(options.maxDepth) levels") }
        var items: [DataSet] = []
        let bound = end ?? limit
        while true {
            if let end, reader.position >= end { break }
            if reader.position >= bound || reader.isAtEnd {
                if end == nil { try defect("sequence has no sequence delimiter before the end of its container") }
                break
            }
            guard bound - reader.position >= 8 else { throw reader.truncated("item header") }
            let itemStart = reader.position
            let tag = try peekTag(bigEndian: encoding.bigEndian)
            if tag == .sequenceDelimitation {
                try reader.skip(8)
                if end == nil { break }
                try defect("sequence delimiter inside a sequence of defined length", tag: tag, at: itemStart)
                continue
            }
            guard tag == .item else {
                if end == nil, tag.group != 0xFFFE {
                    // A data element where an item or delimiter should be: the delimiter is missing.
                    try defect("sequence ends without a sequence delimiter", tag: tag, at: itemStart)
                    break
                }
                throw error("expected an item in a sequence, found \(tag)", tag: tag, at: itemStart)
            }
            try reader.skip(4)
            let length = try reader.uint32(bigEndian: encoding.bigEndian)
            if length == undefinedLength {
                items.append(try parseDataSet(encoding: encoding, end: nil, depth: depth, characterSet: characterSet, isItem: true))
            } else {
                var itemEnd = reader.position + UInt64(length)
                if itemEnd > bound {
                    // Tolerated while the item still fits in the enclosing item; an item cut off
                    // by the end of the file is read as far as it goes (as pydicom does).
                    if itemEnd > limit {
                        guard limit == reader.size else {
                            throw error("item length \(length) reaches past the end of its container", tag: tag, at: itemStart)
                        }
                        itemEnd = limit
                    }
                    try defect("item length \(length) reaches past the end of its sequence", tag: tag, at: itemStart)
                }
                items.append(try parseDataSet(encoding: encoding, end: itemEnd, depth: depth, characterSet: characterSet, isItem: true))
                if reader.position != itemEnd { reader.seek(to: itemEnd) }
            }
        }
        return items
    }

    /// Encapsulated pixel data: the offset table item, then fragment items up to the sequence
    /// delimiter. Only the 8-byte item headers are read; the fragments are skipped.
    private mutating func parseEncapsulated(tag: Tag, limit: UInt64) throws -> EncapsulatedPixelData {
        var table: BulkReference?
        var fragments: [BulkReference] = []
        while true {
            if reader.position >= limit || reader.isAtEnd {
                try defect("encapsulated pixel data has no sequence delimiter", tag: tag)
                break
            }
            guard limit - reader.position >= 8 else {
                try defect("\(limit - reader.position) stray bytes after the last fragment", tag: tag)
                reader.seek(to: limit)
                break
            }
            let itemStart = reader.position
            let itemTag = Tag(try reader.uint16(bigEndian: false), try reader.uint16(bigEndian: false))
            let length = try reader.uint32(bigEndian: false)
            if itemTag == .sequenceDelimitation { break }
            guard itemTag == .item else {
                throw error("expected a fragment item in encapsulated pixel data, found \(itemTag)", tag: tag, at: itemStart)
            }
            guard length != undefinedLength, UInt64(length) <= limit - reader.position else {
                if length == undefinedLength {
                    throw error("fragment with undefined length", tag: tag, at: itemStart)
                }
                throw error("fragment length \(length) reaches past the end of the file", tag: tag, at: itemStart)
            }
            let reference = BulkReference(offset: reader.position, length: UInt64(length))
            try reader.skip(UInt64(length))
            if table == nil { table = reference } else { fragments.append(reference) }
        }
        return EncapsulatedPixelData(basicOffsetTable: table ?? BulkReference(offset: reader.position, length: 0),
                                     fragments: fragments, endOffset: reader.position)
    }

    /// Elements read with an implicit VR whose dictionary allows several VRs ("US or SS",
    /// "OB or OW", "US or OW"): chosen as PS3.5 and pydicom do.
    private func resolveAmbiguousVRs(_ dataSet: inout DataSet, tags: [Tag]) {
        for tag in tags {
            guard var element = dataSet[tag], let entry = DataDictionary.entry(for: tag) else { continue }
            let allowed = Set(entry.allowedVRs)
            if allowed.isSuperset(of: [.US, .SS]) && !allowed.contains(.OW) {
                let representation = pixelRepresentations.reversed().lazy.compactMap { $0 }.first
                    ?? (dataSet[.pixelData] == nil ? 0 : 1)
                element.vr = representation == 0 ? .US : .SS
            } else if allowed.contains(.OW), allowed.contains(.US) {
                // LUT Data: US when the LUT Descriptor says one entry, else OW (PS3.3 C.11.1.1.1).
                element.vr = dataSet.int(Tag(0x0028, 0x3002)) == 1 ? .US : .OW
            } else if allowed == [.OB, .OW] {
                if case .encapsulated = element.value { element.vr = .OB } else { element.vr = .OW }
            } else {
                continue
            }
            dataSet.set(element)
        }
    }
}

@inline(__always)
private func load16(_ bytes: UnsafeRawPointer, _ offset: Int, _ bigEndian: Bool) -> UInt16 {
    let raw = bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)
    return bigEndian ? UInt16(bigEndian: raw) : UInt16(littleEndian: raw)
}

@inline(__always)
private func load32(_ bytes: UnsafeRawPointer, _ offset: Int, _ bigEndian: Bool) -> UInt32 {
    let raw = bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
    return bigEndian ? UInt32(bigEndian: raw) : UInt32(littleEndian: raw)
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " || s.last == "\0" { s = s.dropLast() }
        return String(s)
    }
}
