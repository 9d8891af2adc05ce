/// One page of a ListObjectsV2 answer.
struct ListPage: Equatable {
    struct Entry: Equatable {
        var key: String
        var size: UInt64
        var etag: String?
        var lastModified: Int64?
    }
    var entries: [Entry] = []
    var isTruncated = false
    var nextContinuationToken: String?
}

/// Reads the few elements of a ListObjectsV2 answer that a listing needs. Hand-written rather
/// than Foundation's XMLParser: that lives in FoundationXML, which drags libxml2 into the
/// statically linked release binary, and the answer's shape is fixed and flat (ListBucketResult
/// with Contents/Key/Size/ETag/LastModified, IsTruncated, NextContinuationToken).
enum ListObjectsXML {
    struct Malformed: Error { let message: String }

    /// Keys come percent-encoded when the answer says <EncodingType>url</EncodingType> (the
    /// request asks for it so that keys with control characters survive XML).
    static func parse(_ bytes: [UInt8]) throws(Malformed) -> ListPage {
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.contains("<ListBucketResult") else {
            throw Malformed(message: "not a ListBucketResult: \(text.prefix(200))")
        }
        var page = ListPage()
        let urlEncoded = element("EncodingType", in: Substring(text)) == "url"
        page.isTruncated = element("IsTruncated", in: Substring(text)).map { decodeEntities($0) } == "true"
        page.nextContinuationToken = element("NextContinuationToken", in: Substring(text)).map { decodeEntities($0) }
        var rest = Substring(text)
        while let open = rest.firstRange(of: "<Contents>") {
            guard let close = rest[open.upperBound...].firstRange(of: "</Contents>") else {
                throw Malformed(message: "unterminated <Contents>")
            }
            let body = rest[open.upperBound..<close.lowerBound]
            rest = rest[close.upperBound...]
            guard let rawKey = element("Key", in: body), let sizeText = element("Size", in: body),
                  let size = UInt64(sizeText) else {
                throw Malformed(message: "a <Contents> without Key or Size")
            }
            var key = decodeEntities(rawKey)
            if urlEncoded {
                guard let decoded = percentDecode(key) else { throw Malformed(message: "bad percent-encoding in key '\(key)'") }
                key = decoded
            }
            page.entries.append(.init(key: key, size: size, etag: element("ETag", in: body).map { decodeEntities($0) },
                                      lastModified: element("LastModified", in: body).flatMap { HTTPDates.parseISO8601(String($0)) }))
        }
        if page.isTruncated && page.nextContinuationToken == nil {
            throw Malformed(message: "IsTruncated without NextContinuationToken")
        }
        return page
    }

    /// The text of the first `<name>…</name>` in `text` (first level is enough: the names read
    /// here do not nest inside each other). An empty element `<name/>` reads as "".
    private static func element(_ name: String, in text: Substring) -> Substring? {
        if text.firstRange(of: "<\(name)/>") != nil && text.firstRange(of: "<\(name)>") == nil { return "" }
        guard let open = text.firstRange(of: "<\(name)>"),
              let close = text[open.upperBound...].firstRange(of: "</\(name)>") else { return nil }
        return text[open.upperBound..<close.lowerBound]
    }

    /// XML's five named entities and numeric character references.
    static func decodeEntities(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        var out = ""
        var rest = text
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";") else { break }
            let name = rest[rest.index(after: amp)..<semi]
            switch name {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                var scalar: Unicode.Scalar?
                if name.hasPrefix("#x") || name.hasPrefix("#X") {
                    scalar = UInt32(name.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init)
                } else if name.hasPrefix("#") {
                    scalar = UInt32(name.dropFirst()).flatMap(Unicode.Scalar.init)
                }
                if let scalar { out.unicodeScalars.append(scalar) } else { out += rest[amp...semi] }
            }
            rest = rest[rest.index(after: semi)...]
        }
        return out + rest
    }
}

/// `%XX` decoding (listing keys with encoding-type=url); nil on a malformed escape or bad UTF-8.
func percentDecode(_ text: String) -> String? {
    var bytes: [UInt8] = []
    var iterator = Array(text.utf8).makeIterator()
    func hexValue(_ c: UInt8?) -> UInt8? {
        guard let c else { return nil }
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x37
        case 0x61...0x66: return c - 0x57
        default: return nil
        }
    }
    while let c = iterator.next() {
        if c == UInt8(ascii: "%") {
            guard let hi = hexValue(iterator.next()), let lo = hexValue(iterator.next()) else { return nil }
            bytes.append(hi << 4 | lo)
        } else {
            bytes.append(c)
        }
    }
    return String(validating: bytes, as: UTF8.self)
}
