/// A URL of an object this module reads: `https://host/path?query` (presigned URLs keep their
/// query verbatim), `http://` (loopback servers, tests), `s3://bucket/key`, `gs://bucket/key`.
/// An s3/gs key is taken literally, as the AWS and gcloud tools do: `s3://b/a%20b` names the key
/// `a%20b`; it is percent-encoded only when the HTTP request is made.
public struct RemoteURL: Sendable, Hashable, CustomStringConvertible {
    public enum Scheme: String, Sendable, Hashable {
        case https, http, s3, gs
    }

    public let scheme: Scheme
    /// `host[:port]` for http(s); the bucket for s3/gs.
    public let authority: String
    /// For http(s) the path as written (already encoded), starting with "/"; for s3/gs the key
    /// (possibly empty, or a prefix ending in "/").
    public let path: String
    /// The query of an http(s) URL exactly as written (presigned signatures depend on it).
    public let query: String?
    /// The URL as the user wrote it.
    public let description: String

    /// Whether `string` starts with one of the schemes (any case) and `://`. Called for every
    /// path an index run sees, so it compares bytes: Foundation's `range(of:)` here was 45% of
    /// the instructions of a re-run of `dwc index` over 5,000 unchanged files.
    public static func isRemote(_ string: String) -> Bool {
        let bytes = string.utf8
        // Paths (the usual argument) start with '/' or '.': no scheme starts so.
        guard let first = bytes.first, first | 0x20 == UInt8(ascii: "h") || first | 0x20 == UInt8(ascii: "s")
                || first | 0x20 == UInt8(ascii: "g") else { return false }
        for scheme in ["https://", "http://", "s3://", "gs://"] where bytes.count >= scheme.utf8.count {
            // Letters of the scheme match either case (| 0x20 lowers an ASCII letter), the rest exactly.
            if zip(bytes, scheme.utf8).allSatisfy({ $0 == $1 || ($1 >= 0x61 && $1 <= 0x7A && $0 | 0x20 == $1) }) {
                return true
            }
        }
        return false
    }

    public init(_ string: String) throws(RemoteError) {
        func invalid(_ why: String) -> RemoteError { RemoteError(.invalidURL, url: string, message: why) }
        guard let colon = string.firstRange(of: "://"),
              let scheme = Scheme(rawValue: string[..<colon.lowerBound].lowercased()) else {
            throw invalid("not a URL (expected https://, http://, s3:// or gs://)")
        }
        // Control characters are never meant (a trailing newline of a --urls-from list is the
        // usual accident). Spaces are valid in s3/gs keys, which are literal, not in http URLs.
        if string.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw invalid("contains control characters")
        }
        if (scheme == .http || scheme == .https) && string.contains(" ") {
            throw invalid("contains a space (percent-encode it as %20)")
        }
        let rest = string[colon.upperBound...]
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = String(rest[..<slash])
        var remainder = String(rest[slash...])
        self.scheme = scheme
        self.description = string
        switch scheme {
        case .http, .https:
            if let hash = remainder.firstIndex(of: "#") { remainder = String(remainder[..<hash]) }
            var authority = authority
            // `https://host?x` has its query inside what was split as the authority.
            var query: String?
            if let q = authority.firstIndex(of: "?") {
                query = String(authority[authority.index(after: q)...]) + remainder
                authority = String(authority[..<q])
                remainder = ""
            } else if let q = remainder.firstIndex(of: "?") {
                query = String(remainder[remainder.index(after: q)...])
                remainder = String(remainder[..<q])
            }
            guard !authority.isEmpty, !authority.contains("@") else {
                throw invalid(authority.isEmpty ? "no host" : "user information in URLs is not supported")
            }
            if let portStart = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
                let port = authority[authority.index(after: portStart)...]
                guard let number = Int(port), (1...65535).contains(number) else { throw invalid("bad port '\(port)'") }
            }
            self.authority = authority
            self.path = remainder.isEmpty ? "/" : remainder
            self.query = query
        case .s3, .gs:
            try Self.validateBucket(authority, scheme: scheme, url: string)
            self.authority = authority
            self.path = remainder.isEmpty ? "" : String(remainder.dropFirst())
            self.query = nil
        }
    }

    /// The bucket of an s3:// or gs:// URL.
    public var bucket: String? { scheme == .s3 || scheme == .gs ? authority : nil }
    /// The object key (or prefix) of an s3:// or gs:// URL.
    public var key: String? { scheme == .s3 || scheme == .gs ? path : nil }

    /// The same bucket with another key (listings make object URLs this way; a listed key may
    /// hold any character, so it does not go through the parser).
    func withKey(_ key: String) -> RemoteURL {
        RemoteURL(scheme: scheme, authority: authority, path: key, query: nil,
                  description: "\(scheme.rawValue)://\(authority)/\(key)")
    }

    private init(scheme: Scheme, authority: String, path: String, query: String?, description: String) {
        self.scheme = scheme
        self.authority = authority
        self.path = path
        self.query = query
        self.description = description
    }

    /// S3 rules (3–63 characters of a-z 0-9 . -, starting and ending with a letter or digit);
    /// GCS also allows "_" and, with dots, up to 222 characters.
    private static func validateBucket(_ bucket: String, scheme: Scheme, url: String) throws(RemoteError) {
        let limit = scheme == .gs && bucket.contains(".") ? 222 : 63
        let allowed: (UInt8) -> Bool = { c in
            (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2E || c == 0x2D || (scheme == .gs && c == 0x5F)
        }
        let bytes = Array(bucket.utf8)
        let alnum: (UInt8) -> Bool = { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) }
        guard bytes.count >= 3, bytes.count <= limit, bytes.allSatisfy(allowed),
              alnum(bytes.first!), alnum(bytes.last!), !bucket.contains("..") else {
            throw RemoteError(.invalidURL, url: url,
                              message: "'\(bucket)' is not a valid bucket name (3-\(limit) characters: a-z, 0-9, '.', '-')")
        }
    }
}

/// RFC 3986 percent-encoding of everything but the unreserved characters (and "/" when
/// `keepSlash`): the encoding S3 expects both on the wire and in SigV4's canonical URI and
/// query, so the two never differ.
func percentEncode(_ string: String, keepSlash: Bool) -> String {
    var out = ""
    out.reserveCapacity(string.utf8.count)
    let hex = Array("0123456789ABCDEF".utf8)
    for c in string.utf8 {
        let unreserved = (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39)
            || c == 0x2D || c == 0x2E || c == 0x5F || c == 0x7E || (keepSlash && c == 0x2F)
        if unreserved {
            out.unicodeScalars.append(Unicode.Scalar(c))
        } else {
            out.unicodeScalars.append("%")
            out.unicodeScalars.append(Unicode.Scalar(hex[Int(c >> 4)]))
            out.unicodeScalars.append(Unicode.Scalar(hex[Int(c & 15)]))
        }
    }
    return out
}
