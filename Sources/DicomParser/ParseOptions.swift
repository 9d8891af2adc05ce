import DicomCore

public struct ParseOptions: Sendable {
    /// Stop at the first top-level element whose tag is at or after this one (e.g. Pixel Data):
    /// its header is not consumed and nothing after it is read.
    public var stopBefore: Tag?
    /// Binary values (OB OD OF OL OV OW UN) longer than this stay as references in the source.
    /// Pixel data is always a reference.
    public var bulkThreshold: Int = 16 * 1024
    /// Reject the defects that lenient mode tolerates with a warning.
    public var strict = false
    /// Needed for Deflated Explicit VR Little Endian.
    public var deflate: (any DeflateCodec)?
    /// A deflated data set that inflates beyond this is rejected (deflate bombs).
    public var maxInflatedSize = 1 << 30
    /// Sequences nested deeper than this are rejected (hostile input, stack safety).
    public var maxDepth = 48

    public init(stopBefore: Tag? = nil, strict: Bool = false, deflate: (any DeflateCodec)? = nil) {
        self.stopBefore = stopBefore
        self.strict = strict
        self.deflate = deflate
    }
}

/// What the reader made of one DICOM object.
public struct DicomFile: Sendable {
    /// The 128-byte preamble, when the object is a Part 10 file.
    public var preamble: [UInt8]?
    /// File meta information (group 0002); empty for a raw data set.
    public var fileMeta: DataSet
    public var dataSet: DataSet
    public var transferSyntax: TransferSyntax
    /// The transfer syntax was guessed from the bytes (raw data set, or none in the meta).
    public var transferSyntaxInferred: Bool
    /// Where the data set starts in `source`.
    public var dataSetOffset: UInt64
    /// The parse stopped at `ParseOptions.stopBefore`; `stopOffset` is where the element starts.
    public var stopOffset: UInt64?
    public var warnings: [ParseWarning]
    /// Where the data set's bulk references point: the file, or the inflated buffer of a
    /// deflated file.
    public var source: any ByteSource

    public init(preamble: [UInt8]? = nil, fileMeta: DataSet, dataSet: DataSet, transferSyntax: TransferSyntax,
                transferSyntaxInferred: Bool = false, dataSetOffset: UInt64 = 0, stopOffset: UInt64? = nil,
                warnings: [ParseWarning] = [], source: any ByteSource) {
        self.preamble = preamble
        self.fileMeta = fileMeta
        self.dataSet = dataSet
        self.transferSyntax = transferSyntax
        self.transferSyntaxInferred = transferSyntaxInferred
        self.dataSetOffset = dataSetOffset
        self.stopOffset = stopOffset
        self.warnings = warnings
        self.source = source
    }

    /// Reads a value that the parser kept as a reference.
    public func load(_ reference: BulkReference) throws -> [UInt8] {
        guard reference.length <= UInt64(Int.max), reference.offset <= source.size,
              reference.length <= source.size - reference.offset else {
            throw DicomParserError(.invalid, source: source.name, offset: reference.offset, message: "value reaches past the end")
        }
        let bytes = try source.read(offset: reference.offset, length: Int(reference.length))
        guard bytes.count == Int(reference.length) else {
            throw DicomParserError(.invalid, source: source.name, offset: reference.offset, message: "truncated value")
        }
        return bytes
    }

    /// The bytes of an element's value, loading references.
    public func valueBytes(_ element: DataElement) throws -> [UInt8]? {
        switch element.value {
        case .bytes(let b): return b
        case .bulk(let ref): return try load(ref)
        case .sequence, .encapsulated: return nil
        }
    }
}
