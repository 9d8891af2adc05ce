/// One object found by a listing (or the object itself).
public struct RemoteObject: Sendable, Equatable {
    public var url: RemoteURL
    public var size: UInt64
    public var etag: String?
    /// Nanoseconds since 1970 (the index's mtime unit).
    public var lastModified: Int64?

    public init(url: RemoteURL, size: UInt64, etag: String? = nil, lastModified: Int64? = nil) {
        self.url = url
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
    }
}

/// The answer to one ranged GET.
public struct RemoteResponse: Sendable {
    public var bytes: [UInt8]
    /// The object's size, from Content-Range `bytes a-b/total` (or Content-Length of a 200).
    public var totalSize: UInt64?
    /// The ETag exactly as the server sent it, quotes included (If-Match wants it so).
    public var etag: String?
    /// Nanoseconds since 1970, from Last-Modified.
    public var lastModified: Int64?

    public init(bytes: [UInt8], totalSize: UInt64?, etag: String?, lastModified: Int64?) {
        self.bytes = bytes
        self.totalSize = totalSize
        self.etag = etag
        self.lastModified = lastModified
    }
}

/// `length` bytes from `offset` of one object, optionally only if it still has ETag `ifMatch`.
public struct RangeRequest: Sendable {
    public var url: RemoteURL
    public var offset: UInt64
    public var length: Int
    public var ifMatch: String?

    public init(url: RemoteURL, offset: UInt64, length: Int, ifMatch: String? = nil) {
        self.url = url
        self.offset = offset
        self.length = length
        self.ifMatch = ifMatch
    }
}
