import DicomParser
import Synchronization

/// A ByteSource over one remote object.
///
/// Without a known size the first request GETs bytes 0..<64 KiB: its Content-Range gives the
/// size (no HEAD) and its ETag is remembered. Header reads are served from that prefix window,
/// which grows on a miss to at least four times its size (64 KiB → 256 KiB → 1 MiB…, at most
/// 16 MiB) so that a header of a few hundred KiB costs two GETs whether the parser reads it
/// element by element or skips a large value. Reads starting beyond the next growth step (frames)
/// are one ranged GET each, with If-Match on the ETag: a changed object fails with
/// RemoteError(.changed) instead of mixing bytes of two versions.
public final class RemoteByteSource: ByteSource {
    public static let initialWindow = 64 * 1024
    /// The window stops growing here; reads past it are ranged GETs of their own.
    public static let maximumWindow = 16 * 1024 * 1024
    static let growthFactor = 4

    public let url: RemoteURL
    public let client: RemoteClient
    public let size: UInt64
    /// Last-Modified of the first answer (ns since 1970), nil with a known size or when the
    /// server did not send it: `dwc index` stores it as the object's mtime.
    public let lastModified: Int64?
    /// Concurrent requests for a batch read (`read(ranges:)`).
    public let parallel: Int
    /// How a batch read merges near ranges (64 KiB gaps within 1 % of the bytes, 16 MiB cap).
    public let planner = RangeMergePlanner()
    private let state: Mutex<(window: [UInt8], etag: String?)>

    public var name: String { url.description }
    /// The ETag the object had when first read (or the one it was indexed with).
    public var etag: String? { state.withLock { $0.etag } }
    /// Bytes of the prefix held in memory (tests).
    public var windowSize: Int { state.withLock { $0.window.count } }

    /// `knownSize` and `etag` come from the index: with a size, nothing is requested until the
    /// first read, and every read is made with If-Match on `etag`.
    public init(url: RemoteURL, client: RemoteClient, knownSize: UInt64? = nil, etag: String? = nil,
                parallel: Int = 8) throws {
        self.url = url
        self.client = client
        self.parallel = max(1, parallel)
        if let knownSize {
            size = knownSize
            lastModified = nil
            state = Mutex(([], etag))
            return
        }
        let first = try client.get(RangeRequest(url: url, offset: 0, length: Self.initialWindow, ifMatch: etag))
        guard let total = first.totalSize ?? (first.bytes.count < Self.initialWindow ? UInt64(first.bytes.count) : nil) else {
            throw RemoteError(.server, url: url.description, message: "the server does not tell the object's size (Content-Range total '*')")
        }
        size = total
        lastModified = first.lastModified
        state = Mutex((first.bytes, first.etag ?? etag))
    }

    public func read(offset: UInt64, length: Int) throws -> [UInt8] {
        guard offset < size, length > 0 else { return [] }
        // The size came from a server: no offset + length that could overflow.
        let end = size - offset < UInt64(length) ? size : offset + UInt64(length)
        if let bytes = try fromWindow(offset, end) { return bytes }
        return try fetch(offset, end)
    }

    /// Ranges inside (or joining) the window are served from it; the others are planned by
    /// `planner` (near ranges share one request, see RangeMergePlanner) and fetched with up to
    /// `parallel` concurrent GETs; answers in the order asked.
    public func read(ranges: [(offset: UInt64, length: Int)]) throws -> [[UInt8]] {
        var results = [[UInt8]](repeating: [], count: ranges.count)
        var remote: [(index: Int, offset: UInt64, end: UInt64)] = []
        for (i, range) in ranges.enumerated() where range.offset < size && range.length > 0 {
            let end = size - range.offset < UInt64(range.length) ? size : range.offset + UInt64(range.length)
            if let bytes = try fromWindow(range.offset, end) { results[i] = bytes } else { remote.append((i, range.offset, end)) }
        }
        guard !remote.isEmpty else { return results }
        let tag = etag
        let plan = planner.plan(remote.map { ($0.offset, Int($0.end - $0.offset)) })
        let responses = try client.get(plan.requests.map { RangeRequest(url: url, offset: $0.offset, length: $0.length, ifMatch: tag) },
                                       parallel: parallel)
        for (request, response) in zip(plan.requests, responses) {
            try check(response, offset: request.offset, end: request.offset + UInt64(request.length))
        }
        for (slot, bytes) in zip(remote, plan.spans(from: responses.map(\.bytes))) {
            results[slot.index] = bytes
        }
        return results
    }

    /// The bytes from the window, growing it when the read starts within its next growth step;
    /// nil when the read lies beyond (a ranged GET of its own).
    private func fromWindow(_ offset: UInt64, _ end: UInt64) throws -> [UInt8]? {
        try state.withLock { state throws -> [UInt8]? in
            let held = UInt64(state.window.count)
            if end <= held { return Array(state.window[Int(offset)..<Int(end)]) }
            let reach = state.window.isEmpty ? 0 : held * UInt64(Self.growthFactor)
            let grown = min(size, max(end, reach, UInt64(Self.initialWindow)))
            guard offset <= reach, grown <= UInt64(Self.maximumWindow) else { return nil }
            let response = try client.get(RangeRequest(url: url, offset: held, length: Int(grown - held), ifMatch: state.etag))
            // Not check(): it reads self.etag, which takes the lock held here.
            try Self.verify(response, offset: held, end: grown, expected: state.etag, url: url, size: size)
            state.window += response.bytes
            if state.etag == nil { state.etag = response.etag }
            return Array(state.window[Int(offset)..<Int(end)])
        }
    }

    private func fetch(_ offset: UInt64, _ end: UInt64) throws -> [UInt8] {
        let tag = etag
        let response = try client.get(RangeRequest(url: url, offset: offset, length: Int(end - offset), ifMatch: tag))
        try check(response, offset: offset, end: end, etag: tag)
        return response.bytes
    }

    /// A ranged answer must have every byte asked for (the size is known) and, for servers that
    /// ignore If-Match, the same ETag.
    private func check(_ response: RemoteResponse, offset: UInt64, end: UInt64, etag: String? = nil) throws {
        try Self.verify(response, offset: offset, end: end, expected: etag ?? self.etag, url: url, size: size)
    }

    private static func verify(_ response: RemoteResponse, offset: UInt64, end: UInt64, expected: String?,
                               url: RemoteURL, size: UInt64) throws(RemoteError) {
        if let expected, let got = response.etag, got != expected {
            throw RemoteError(.changed, url: url.description, message: "the object changed (ETag \(expected) → \(got))")
        }
        guard UInt64(response.bytes.count) == end - offset else {
            throw RemoteError(.shortRead, url: url.description,
                              message: "asked \(end - offset) bytes at offset \(offset) of \(size), got \(response.bytes.count)")
        }
    }
}
