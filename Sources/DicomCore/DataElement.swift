/// Where a value that was not loaded lies in the byte source it was parsed from.
public struct BulkReference: Hashable, Sendable {
    public let offset: UInt64
    public let length: UInt64
    public init(offset: UInt64, length: UInt64) { self.offset = offset; self.length = length }
}

/// Encapsulated pixel data (PS3.5 A.4): the Basic Offset Table item and the fragments, which are
/// kept as references; their bytes are read only when a frame is asked for.
public struct EncapsulatedPixelData: Sendable, Hashable {
    /// The Basic Offset Table item's value (may be empty).
    public var basicOffsetTable: BulkReference
    /// Each fragment's value (without its 8-byte item header).
    public var fragments: [BulkReference]
    /// Offset just past the sequence delimiter: the element's value spans valueOffset..<endOffset.
    public var endOffset: UInt64
    public init(basicOffsetTable: BulkReference, fragments: [BulkReference], endOffset: UInt64) {
        self.basicOffsetTable = basicOffsetTable
        self.fragments = fragments
        self.endOffset = endOffset
    }
}

public enum ElementValue: Sendable {
    /// The value bytes as stored (byte order of the data set), padding included.
    case bytes([UInt8])
    /// A value too large to load with the header; read it from the source on demand.
    case bulk(BulkReference)
    /// Sequence items.
    case sequence([DataSet])
    /// Pixel data of an encapsulated transfer syntax.
    case encapsulated(EncapsulatedPixelData)
}

public struct DataElement: Sendable {
    public var tag: Tag
    public var vr: VR
    public var value: ElementValue
    /// Offset of the value's first byte in the source (after the element header).
    public var valueOffset: UInt64
    /// True when the element was written with undefined length (sequences, encapsulated pixels).
    public var hadUndefinedLength: Bool

    public init(tag: Tag, vr: VR, value: ElementValue, valueOffset: UInt64 = 0, hadUndefinedLength: Bool = false) {
        self.tag = tag
        self.vr = vr
        self.value = value
        self.valueOffset = valueOffset
        self.hadUndefinedLength = hadUndefinedLength
    }

    public init(tag: Tag, vr: VR, bytes: [UInt8]) {
        self.init(tag: tag, vr: vr, value: .bytes(bytes))
    }

    /// Length of the value in bytes; nil for sequences and encapsulated pixel data.
    public var valueLength: UInt64? {
        switch value {
        case .bytes(let b): return UInt64(b.count)
        case .bulk(let ref): return ref.length
        case .sequence, .encapsulated: return nil
        }
    }

    public var isEmpty: Bool {
        switch value {
        case .bytes(let b): return b.isEmpty
        case .bulk(let ref): return ref.length == 0
        case .sequence(let items): return items.isEmpty
        case .encapsulated: return false
        }
    }

    public var bytes: [UInt8]? {
        if case .bytes(let b) = value { return b }
        return nil
    }

    public var items: [DataSet]? {
        if case .sequence(let items) = value { return items }
        return nil
    }
}
