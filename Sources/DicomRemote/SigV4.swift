import CCrypto

/// AWS Signature Version 4 for S3 GET requests, signed in the Authorization header.
/// Hand-written: it is ~80 lines of string building over SHA-256/HMAC (libcrypto), and the AWS
/// SDK for Swift would bring a large dependency tree for this one function. Verified by tests
/// against AWS's published example, botocore, and moto's signature check.
struct SigV4 {
    let credentials: S3Credentials
    let region: String
    let service = "s3"

    /// SHA-256 of the empty body, sent as x-amz-content-sha256 on every GET.
    static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// The headers to add to a GET of `host` + `canonicalURI` (the path exactly as sent, already
    /// percent-encoded) with `query` parameters (not encoded), at `date` (seconds since 1970).
    /// `extraSigned` are further headers to sign (lower-case names), e.g. range in tests.
    func headers(host: String, canonicalURI: String, query: [(String, String)], date: Int64,
                 extraSigned: [(String, String)] = []) -> [(String, String)] {
        let (amzDate, day) = Self.timestamps(date)
        var signed: [(String, String)] = [("host", host), ("x-amz-content-sha256", Self.emptyPayloadHash),
                                          ("x-amz-date", amzDate)]
        if let token = credentials.sessionToken { signed.append(("x-amz-security-token", token)) }
        signed += extraSigned.map { ($0.0.lowercased(), $0.1) }
        signed.sort { $0.0 < $1.0 }
        let canonicalQuery = Self.canonicalQuery(query)
        let canonicalHeaders = signed.map { "\($0.0):\(Self.trimmed($0.1))\n" }.joined()
        let signedHeaders = signed.map(\.0).joined(separator: ";")
        let canonicalRequest = ["GET", canonicalURI, canonicalQuery, canonicalHeaders, signedHeaders,
                                Self.emptyPayloadHash].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, Self.hex(Self.sha256(Array(canonicalRequest.utf8)))]
            .joined(separator: "\n")
        var key = Self.hmac(Array("AWS4\(credentials.secretAccessKey)".utf8), day)
        key = Self.hmac(key, region)
        key = Self.hmac(key, service)
        key = Self.hmac(key, "aws4_request")
        let signature = Self.hex(Self.hmac(key, stringToSign))
        let authorization = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyId)/\(scope), "
            + "SignedHeaders=\(signedHeaders), Signature=\(signature)"
        // host is sent by curl from the URL; everything else is added explicitly.
        return signed.filter { $0.0 != "host" } + [("authorization", authorization)]
    }

    /// Query parameters sorted by encoded name (then value), both RFC 3986-encoded.
    static func canonicalQuery(_ query: [(String, String)]) -> String {
        query.map { (percentEncode($0.0, keepSlash: false), percentEncode($0.1, keepSlash: false)) }
            .sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// ("20130524T000000Z", "20130524") for `date` seconds since 1970, UTC.
    static func timestamps(_ date: Int64) -> (String, String) {
        let (y, m, d) = civilDate(daysSinceEpoch: date >= 0 ? date / 86400 : (date - 86399) / 86400)
        let seconds = ((date % 86400) + 86400) % 86400
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let day = "\(y)\(two(m))\(two(d))"
        return ("\(day)T\(two(seconds / 3600))\(two(seconds / 60 % 60))\(two(seconds % 60))Z", day)
    }

    /// Header values with leading/trailing spaces removed and inner runs of spaces collapsed.
    private static func trimmed(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }

    // A digest that cannot be computed (libcrypto missing) stays zero: the server then refuses
    // the signature (403), which names the URL; nothing is read under a wrong identity.
    static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        bytes.withUnsafeBufferPointer { _ = dwc_sha256($0.baseAddress, $0.count, &digest) }
        return digest
    }

    static func hmac(_ key: [UInt8], _ message: String) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        let data = Array(message.utf8)
        key.withUnsafeBufferPointer { k in
            data.withUnsafeBufferPointer { m in
                _ = dwc_hmac_sha256(k.baseAddress, k.count, m.baseAddress, m.count, &digest)
            }
        }
        return digest
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}

/// (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian; H. Hinnant's algorithm).
func civilDate(daysSinceEpoch: Int64) -> (Int64, Int64, Int64) {
    let z = daysSinceEpoch + 719468
    let era = (z >= 0 ? z : z - 146096) / 146097
    let doe = z - era * 146097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
}

/// Days since 1970-01-01 of a (year, month, day) (the inverse of civilDate).
func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146097 + doe - 719468
}
