import DicomCore

/// Builds the frame table of encapsulated pixel data from its bytes delivered in order, in
/// chunks of any size — the same table `FrameLocator.scan` builds with reads at each item
/// header. Over a network a random-access scan costs one request per fragment; this costs one
/// streaming request, and skips fragment bodies without keeping them.
///
/// Feed it the bytes from `startOffset` (the first fragment's item tag) on; it asks for no more
/// once it has seen the sequence delimiter. `finish()` then groups the fragments into frames.
/// Every length is checked against the object's size, so a damaged stream ends in an error.
public struct FrameTableScanner: Sendable {
    public let location: PixelDataLocation
    public let frameCount: Int
    /// The object's size (lengths are checked against it, as the random-access scan does).
    public let sourceSize: UInt64
    /// Where the stream must start: the first fragment's item tag.
    public let startOffset: UInt64
    private let name: String

    private enum State: Sendable {
        /// Collecting an item header's 8 bytes.
        case header
        /// Collecting the first bytes of a fragment (`want` of them), then skipping `rest`.
        case head(want: Int, rest: UInt64)
        case skip(UInt64)
        /// The sequence delimiter was seen, or the object ended; nothing more is read.
        case done
    }

    private var state: State = .header
    /// The absolute offset of the next byte the stream delivers.
    public private(set) var position: UInt64
    /// Offset of the item being read.
    private var itemOffset: UInt64
    private var pending: [UInt8] = []
    private var fragments: [EncapsulatedFragment] = []
    /// Where the last frame ends: the delimiter's offset, or the end of the last fragment.
    private var end: UInt64

    public init(location: PixelDataLocation, frameCount: Int, sourceSize: UInt64, sourceName: String) throws {
        guard let first = location.firstFragmentOffset else {
            throw DicomParserError(.invalid, source: sourceName, tag: .pixelData, message: "pixel data is not encapsulated")
        }
        self.location = location
        self.frameCount = frameCount
        self.sourceSize = sourceSize
        self.startOffset = first
        self.name = sourceName
        position = first
        itemOffset = first
        end = sourceSize
        if first + 8 > sourceSize { state = .done }  // as the random-access scan: no room for an item
    }

    /// True once no more bytes are needed.
    public var isComplete: Bool {
        if case .done = state { return true }
        return false
    }

    /// Feeds the next bytes of the stream. Returns true when no more are needed (the rest of the
    /// chunk, and of the stream, is ignored).
    @discardableResult
    public mutating func consume(_ chunk: [UInt8]) throws -> Bool {
        try chunk.withUnsafeBufferPointer { try consume($0) }
    }

    @discardableResult
    public mutating func consume(_ chunk: UnsafeBufferPointer<UInt8>) throws -> Bool {
        var i = 0
        while i < chunk.count {
            switch state {
            case .done:
                return true
            case .header:
                let take = min(8 - pending.count, chunk.count - i)
                pending.append(contentsOf: chunk[i..<(i + take)])
                i += take
                position += UInt64(take)
                if pending.count == 8 { try headerComplete() }
            case .head(let want, let rest):
                let take = min(want - pending.count, chunk.count - i)
                pending.append(contentsOf: chunk[i..<(i + take)])
                i += take
                position += UInt64(take)
                if pending.count == want {
                    fragments.append(EncapsulatedFragment(itemOffset: itemOffset, head: pending))
                    pending.removeAll(keepingCapacity: true)
                    state = rest > 0 ? .skip(rest) : .header
                    if rest == 0 { itemEnded() }
                }
            case .skip(let remaining):
                let take = min(remaining, UInt64(chunk.count - i))
                i += Int(take)
                position += take
                if take == remaining {
                    state = .header
                    itemEnded()
                } else {
                    state = .skip(remaining - take)
                }
            }
        }
        return isComplete
    }

    private mutating func headerComplete() throws {
        let h = pending
        pending.removeAll(keepingCapacity: true)
        let tag = Tag(UInt16(h[0]) | UInt16(h[1]) << 8, UInt16(h[2]) | UInt16(h[3]) << 8)
        let length = UInt64(h[4]) | UInt64(h[5]) << 8 | UInt64(h[6]) << 16 | UInt64(h[7]) << 24
        if tag == .sequenceDelimitation {
            end = itemOffset
            state = .done
            return
        }
        guard tag == .item, length != 0xFFFF_FFFF, length <= sourceSize - itemOffset - 8 else {
            state = .done
            throw DicomParserError(.invalid, source: name, offset: itemOffset, tag: .pixelData,
                                   message: tag == .item ? "fragment length \(length) reaches past the end of the file" : "expected a fragment item, found \(tag)")
        }
        let want = Int(min(4, length))
        if want == 0 {
            fragments.append(EncapsulatedFragment(itemOffset: itemOffset, head: []))
            state = .header
            itemEnded()
        } else {
            state = .head(want: want, rest: length - UInt64(want))
        }
    }

    /// The item ended at `position`: the next one starts there, if there is room for one.
    private mutating func itemEnded() {
        end = position
        itemOffset = position
        if position + 8 > sourceSize { state = .done }
    }

    /// The frame table, once the stream has ended (or `consume` returned true). A stream that
    /// stopped before the delimiter and before the end of the object is an error: the bytes did
    /// not all arrive.
    public func finish() throws -> FrameLayout {
        guard isComplete else {
            throw DicomParserError(.invalid, source: name, offset: position, tag: .pixelData,
                                   message: "the pixel data stream ended at offset \(position), before the end of the object (\(sourceSize) bytes)")
        }
        return try FrameLocator.group(fragments, end: end, location: location, frameCount: frameCount, source: name)
    }
}
