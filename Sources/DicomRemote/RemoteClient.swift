import Synchronization

/// Ranged GETs, streams and listings of remote objects. Thread-safe; keeps connections alive;
/// counts requests and bytes.
public final class RemoteClient: Sendable {
    public let options: RemoteOptions
    private let counters = Mutex<(requests: Int, bytes: UInt64)>((0, 0))

    public init(options: RemoteOptions) {
        self.options = options
    }

    /// Requests made (each retry counts) and body bytes received, since the client was made.
    public var statistics: (requests: Int, bytes: UInt64) { counters.withLock { $0 } }

    // TODO(remote): stubs until the libcurl transport lands.
    private func notImplemented(_ url: RemoteURL) -> RemoteError {
        RemoteError(.network, url: url.description, message: "remote reading is not implemented yet (TODO)")
    }

    /// One ranged GET.
    public func get(_ request: RangeRequest) throws(RemoteError) -> RemoteResponse {
        throw notImplemented(request.url)
    }

    /// Several ranged GETs over up to `parallel` connections; answers in the order asked.
    public func get(_ requests: [RangeRequest], parallel: Int = 8) throws(RemoteError) -> [RemoteResponse] {
        guard let first = requests.first else { return [] }
        throw notImplemented(first.url)
    }

    /// One GET from `offset` to the end, the body delivered in chunks; `body` returns false to stop early.
    public func stream(_ url: RemoteURL, from offset: UInt64, ifMatch: String? = nil,
                       _ body: ([UInt8]) throws -> Bool) throws {
        throw notImplemented(url)
    }

    /// Objects under an s3:// or gs:// prefix (ListObjectsV2, paged), or the object itself for
    /// an http(s) URL.
    public func list(_ prefix: RemoteURL) throws(RemoteError) -> [RemoteObject] {
        throw notImplemented(prefix)
    }
}
