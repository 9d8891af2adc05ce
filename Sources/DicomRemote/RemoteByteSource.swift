import DicomParser
import Synchronization

/// A ByteSource over one remote object. The first read GETs bytes 0..<64 KiB (Content-Range gives
/// the size: no HEAD) and remembers the ETag; header reads are served from a growing prefix
/// window (each miss fetches at least double the window); reads beyond the window are one ranged
/// GET each with If-Match (412 → RemoteError(.changed)).
public final class RemoteByteSource: ByteSource {
    public let url: RemoteURL
    public let client: RemoteClient
    public var name: String { url.description }

    public init(url: RemoteURL, client: RemoteClient, knownSize: UInt64? = nil, etag: String? = nil) throws {
        self.url = url
        self.client = client
        // TODO(remote): first GET when knownSize is nil.
        throw RemoteError(.network, url: url.description, message: "remote reading is not implemented yet (TODO)")
    }

    public var size: UInt64 { 0 }
    public var etag: String? { nil }

    public func read(offset: UInt64, length: Int) throws -> [UInt8] {
        throw RemoteError(.network, url: url.description, message: "remote reading is not implemented yet (TODO)")
    }
}
