import CCurl
import Glibc
import Synchronization

/// Ranged GETs, streams and listings of remote objects over libcurl. Thread-safe: every call
/// drives a curl_multi loop on the calling thread, with a multi handle and easy handles taken
/// from pools; the multi handles keep their connections, so consecutive requests to a host
/// reuse them (keep-alive). Counts requests and bytes.
public final class RemoteClient: Sendable {
    public let options: RemoteOptions
    private let counters = Mutex<(requests: Int, bytes: UInt64)>((0, 0))
    private let pool = HandlePool()
    private let multis = MultiPool()

    public init(options: RemoteOptions) {
        _ = curlInitialized
        self.options = options
    }

    /// Requests made (each retry counts) and body bytes received, since the client was made.
    public var statistics: (requests: Int, bytes: UInt64) { counters.withLock { $0 } }

    /// One ranged GET.
    public func get(_ request: RangeRequest) throws(RemoteError) -> RemoteResponse {
        try get([request], parallel: 1)[0]
    }

    /// Several ranged GETs over up to `parallel` connections; answers in the order asked. The
    /// first failure (after its retries) is thrown.
    public func get(_ requests: [RangeRequest], parallel: Int = 8) throws(RemoteError) -> [RemoteResponse] {
        var transfers: [Transfer] = []
        for request in requests {
            let (last, overflow) = request.offset.addingReportingOverflow(UInt64(max(0, request.length)) &- 1)
            guard request.length > 0, !overflow else {
                throw RemoteError(.invalidURL, url: request.url.description,
                                  message: "bad range: \(request.length) bytes at offset \(request.offset)")
            }
            var headers = ["Range: bytes=\(request.offset)-\(last)"]
            if let etag = request.ifMatch { headers.append("If-Match: \(etag)") }
            transfers.append(try makeTransfer(request.url, headers: headers,
                                              mode: .range(offset: request.offset, length: request.length)))
        }
        try run(transfers, parallel: parallel)
        var responses: [RemoteResponse] = []
        for (transfer, request) in zip(transfers, requests) {
            responses.append(try rangeResponse(transfer, request))
        }
        return responses
    }

    /// One GET from `offset` to the end, the body delivered in chunks; `body` returns false to
    /// stop early. Errors thrown by `body` are rethrown as they are. Not retried once bytes were
    /// delivered (the consumer has seen them).
    public func stream(_ url: RemoteURL, from offset: UInt64, ifMatch: String? = nil,
                       _ body: ([UInt8]) throws -> Bool) throws {
        try withoutActuallyEscaping(body) { body in
            var headers = offset > 0 ? ["Range: bytes=\(offset)-"] : []
            if let ifMatch { headers.append("If-Match: \(ifMatch)") }
            let transfer = try makeTransfer(url, headers: headers, mode: .stream(offset: offset, chunk: body))
            try run([transfer], parallel: 1)
            if let error = transfer.callbackError { throw error }
            try checkStatus(transfer)
        }
    }

    /// Objects under an s3:// or gs:// prefix (ListObjectsV2, paged), or the object itself.
    /// A prefix ending in "/" (or empty) lists everything under it; otherwise the object with
    /// exactly that key, or when there is none, everything under `key/`.
    public func list(_ prefix: RemoteURL) throws(RemoteError) -> [RemoteObject] {
        guard let bucket = prefix.bucket, let key = prefix.key else {
            // An http(s) URL names one object: a 1-byte GET gives its size and ETag, no HEAD.
            let response = try get(RangeRequest(url: prefix, offset: 0, length: 1))
            return [RemoteObject(url: prefix, size: response.totalSize ?? UInt64(response.bytes.count),
                                 etag: response.etag, lastModified: response.lastModified)]
        }
        let asDirectory = key.isEmpty || key.hasSuffix("/")
        let entries = try listEntries(prefix, bucket: bucket, prefix: key)
        var objects: [RemoteObject] = []
        if !asDirectory, let exact = entries.first(where: { $0.key == key }) {
            return [RemoteObject(url: prefix, size: exact.size, etag: exact.etag, lastModified: exact.lastModified)]
        }
        for entry in entries where asDirectory || entry.key.hasPrefix(key + "/") {
            // "Folder" placeholder objects (key/ of size 0) are not objects to read.
            if entry.key.hasSuffix("/") && entry.size == 0 { continue }
            objects.append(RemoteObject(url: prefix.withKey(entry.key), size: entry.size, etag: entry.etag,
                                        lastModified: entry.lastModified))
        }
        if objects.isEmpty {
            throw RemoteError(.notFound, url: prefix.description, message: "no objects under this prefix")
        }
        return objects
    }

    // MARK: - Listing

    private func listEntries(_ url: RemoteURL, bucket: String, prefix: String) throws(RemoteError) -> [ListPage.Entry] {
        var entries: [ListPage.Entry] = []
        var token: String?
        var pages = 0
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix)]
            // S3 and the GCS XML API both take encoding-type=url (keys with control characters
            // survive XML); the answer says whether it was applied.
            query.append(("encoding-type", "url"))
            if let token { query.append(("continuation-token", token)) }
            let transfer = try makeTransfer(url, bucketOnly: true, query: query, headers: [], mode: .whole(limit: 64 << 20))
            try run([transfer], parallel: 1)
            if let error = transfer.callbackError as? RemoteError { throw error }
            try checkStatus(transfer)
            let page: ListPage
            do {
                page = try ListObjectsXML.parse(transfer.body)
            } catch {
                throw RemoteError(.listing, url: url.description, status: transfer.status,
                                  message: "cannot read the ListObjectsV2 answer: \(error.message)")
            }
            entries += page.entries
            pages += 1
            token = page.isTruncated ? page.nextContinuationToken : nil
            // A server repeating a token would loop forever.
            if pages > 1_000_000 {
                throw RemoteError(.listing, url: url.description, message: "listing does not end")
            }
        } while token != nil
        return entries
    }

    // MARK: - Requests

    /// The HTTP request for `url` (an object, or with `bucketOnly` its bucket for a listing),
    /// addressed and signed as the options say.
    func makeTransfer(_ url: RemoteURL, bucketOnly: Bool = false, query: [(String, String)] = [],
                              headers: [String], mode: Transfer.Mode) throws(RemoteError) -> Transfer {
        var headers = headers
        let httpURL: String
        var signed = false
        switch url.scheme {
        case .http, .https:
            // As written: a presigned URL's query must reach the server byte for byte.
            httpURL = "\(url.scheme.rawValue)://\(url.authority)\(url.path)" + (url.query.map { "?\($0)" } ?? "")
        case .s3, .gs:
            let key = bucketOnly ? "" : url.path
            if !bucketOnly && key.isEmpty {
                throw RemoteError(.invalidURL, url: url.description, message: "no object key")
            }
            let encodedKey = percentEncode(key, keepSlash: true)
            let (base, host, basePath, pathStyle) = try endpoint(for: url)
            let canonicalURI = pathStyle ? "\(basePath)/\(url.authority)/\(encodedKey)" : "\(basePath)/\(encodedKey)"
            let canonicalQuery = SigV4.canonicalQuery(query)
            httpURL = base + canonicalURI + (canonicalQuery.isEmpty ? "" : "?" + canonicalQuery)
            if url.scheme == .s3, let credentials = options.credentials {
                let signer = SigV4(credentials: credentials, region: options.region)
                let date = Int64(time(nil))
                for (name, value) in signer.headers(host: host, canonicalURI: canonicalURI, query: query, date: date) {
                    headers.append("\(name): \(value)")
                }
                signed = true
            }
        }
        // A redirect would carry the signature to another host (and break it): signed requests
        // fail on a redirect instead; presigned and public URLs follow up to 5.
        return Transfer(display: url.description, httpURL: httpURL, headers: headers, mode: mode, followRedirects: !signed)
    }

    /// (scheme://host[:port], host[:port], path prefix, path style) of a bucket's endpoint.
    private func endpoint(for url: RemoteURL) throws(RemoteError) -> (String, String, String, Bool) {
        let configured = url.scheme == .s3 ? options.s3Endpoint : (options.gcsEndpoint ?? "https://storage.googleapis.com")
        if let configured {
            let trimmed = configured.hasSuffix("/") ? String(configured.dropLast()) : configured
            guard let endpoint = try? RemoteURL(trimmed), endpoint.scheme == .http || endpoint.scheme == .https,
                  endpoint.query == nil else {
                throw RemoteError(.invalidURL, url: url.description, message: "bad endpoint '\(configured)'")
            }
            let basePath = endpoint.path == "/" ? "" : endpoint.path
            return ("\(endpoint.scheme.rawValue)://\(endpoint.authority)", endpoint.authority, basePath, true)
        }
        // AWS: virtual-hosted addressing, except for bucket names with dots, whose host name
        // the *.s3 TLS certificate does not cover (path style there).
        let regional = "s3.\(options.region).amazonaws.com"
        if url.authority.contains(".") {
            return ("https://\(regional)", regional, "", true)
        }
        let host = "\(url.authority).\(regional)"
        return ("https://\(host)", host, "", false)
    }

    /// Runs the transfers over up to `parallel` concurrent connections, retrying 5xx answers,
    /// timeouts and connection errors with exponential backoff. Throws the first failure.
    private func run(_ transfers: [Transfer], parallel: Int) throws(RemoteError) {
        guard let multi = multis.take() else {
            throw RemoteError(.network, url: transfers.first?.display ?? "", message: "cannot start libcurl: \(String(cString: dwc_curl_load_error()))")
        }
        var pending = Array(transfers.indices.reversed())     // popped from the end: in order
        var active: [UnsafeMutableRawPointer: Int] = [:]
        var waiting: [(due: Double, index: Int)] = []
        var failure: RemoteError?
        defer {
            for handle in active.keys {
                dwc_curl_multi_remove_handle(multi, handle)
                pool.discard(handle)        // mid-transfer: its connection is in an unknown state
            }
            multis.give(multi)
        }
        let width = max(1, parallel)
        while failure == nil && (!pending.isEmpty || !active.isEmpty || !waiting.isEmpty) {
            let now = monotonicSeconds()
            waiting.sort { $0.due > $1.due }
            while let last = waiting.last, last.due <= now { pending.append(last.index); waiting.removeLast() }
            while active.count < width, let index = pending.popLast() {
                let handle = pool.take()
                transfers[index].configure(handle, timeout: options.timeout)
                counters.withLock { $0.requests += 1 }
                dwc_curl_multi_add_handle(multi, handle)
                active[handle] = index
            }
            var running: Int32 = 0
            dwc_curl_multi_perform(multi, &running)
            var queued: Int32 = 0
            while let message = dwc_curl_multi_info_read(multi, &queued) {
                guard message.pointee.msg == CURLMSG_DONE, let handle = message.pointee.easy_handle,
                      let index = active.removeValue(forKey: handle) else { continue }
                let code = message.pointee.data.result
                dwc_curl_multi_remove_handle(multi, handle)
                pool.give(handle)
                let transfer = transfers[index]
                switch outcome(transfer, code) {
                case .done:
                    break
                case .retry(let error):
                    let delivered: Bool
                    if case .stream = transfer.mode { delivered = transfer.position > 0 && transfer.status / 100 == 2 } else { delivered = false }
                    if transfer.attempts <= options.retries && !delivered {
                        let delay = min(5.0, 0.1 * pow(2.0, Double(transfer.attempts - 1))) * Double.random(in: 0.9...1.1)
                        waiting.append((monotonicSeconds() + delay, index))
                    } else {
                        failure = transfer.attempts > 1
                            ? RemoteError(error.kind, url: error.url, status: error.status,
                                          message: "\(error.message) (after \(transfer.attempts) attempts)")
                            : error
                    }
                case .fail(let error):
                    failure = error
                }
            }
            if failure == nil && (!active.isEmpty || !waiting.isEmpty) {
                var timeout = 1000
                if active.isEmpty, let next = waiting.map(\.due).min() {
                    timeout = max(0, Int((next - monotonicSeconds()) * 1000))
                } else if let next = waiting.map(\.due).min() {
                    timeout = max(0, min(timeout, Int((next - monotonicSeconds()) * 1000)))
                }
                if active.isEmpty {
                    if timeout > 0 { usleep(UInt32(timeout) * 1000) }
                } else {
                    dwc_curl_multi_poll(multi, nil, 0, Int32(timeout), nil)
                }
            }
        }
        let bytes = transfers.reduce(UInt64(0)) { $0 + $1.received }
        counters.withLock { $0.bytes += bytes }
        if let failure { throw failure }
    }

    private enum Outcome {
        case done
        case retry(RemoteError)
        case fail(RemoteError)
    }

    /// What one attempt came to: finished (any HTTP answer that is not worth repeating), or an
    /// error to retry or to give up on.
    private func outcome(_ transfer: Transfer, _ code: CURLcode) -> Outcome {
        let url = transfer.display
        if code != CURLE_OK && !(code == CURLE_WRITE_ERROR && (transfer.stoppedOnPurpose || transfer.callbackError != nil)) {
            let message = transfer.curlMessage(code)
            switch code {
            case CURLE_OPERATION_TIMEDOUT:
                return .retry(RemoteError(.timeout, url: url, message: "timed out after \(options.timeout) s: \(message)"))
            case CURLE_PARTIAL_FILE:
                return .retry(RemoteError(.shortRead, url: url, status: transfer.status,
                                          message: "the connection closed before the announced length: \(message)"))
            case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT:
                return .fail(RemoteError(.invalidURL, url: url, message: message))
            case CURLE_TOO_MANY_REDIRECTS:
                return .fail(RemoteError(.network, url: url, message: message))
            case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE:
                return .fail(RemoteError(.network, url: url, message: "TLS: \(message)"))
            default:
                return .retry(RemoteError(.network, url: url, message: message))
            }
        }
        if transfer.status >= 500 || transfer.status == 429 {
            return .retry(RemoteError(.server, url: url, status: transfer.status,
                                      message: "server error\(s3ErrorCode(transfer).map { " \($0)" } ?? "")"))
        }
        return .done
    }

    /// The status check shared by all requests: 2xx passes; 403/404/412 and others throw.
    private func checkStatus(_ transfer: Transfer) throws(RemoteError) {
        let url = transfer.display
        // Only error answers are searched for a code (a frame's bytes are not text).
        var code: String { s3ErrorCode(transfer).map { " (\($0))" } ?? "" }
        switch transfer.status {
        case 200..<300:
            return
        case 404:
            throw RemoteError(.notFound, url: url, status: 404, message: "not found\(code)")
        case 401, 403:
            let hint = options.credentials == nil ? "; no AWS credentials in the environment" : ""
            throw RemoteError(.forbidden, url: url, status: transfer.status, message: "access denied\(code)\(hint)")
        case 412:
            throw RemoteError(.changed, url: url, status: 412, message: "the object changed (its ETag no longer matches)")
        case 300..<400:
            throw RemoteError(.server, url: url, status: transfer.status,
                              message: "redirected to \(transfer.responseHeaders["location"] ?? "?")\(code)"
                                + (options.credentials != nil ? " (wrong AWS_REGION?)" : ""))
        default:
            throw RemoteError(.server, url: url, status: transfer.status, message: "unexpected answer\(code)")
        }
    }

    /// The answer to one ranged GET, checked: the range asked for (clipped at the object's end),
    /// from a 206 or from a 200 whose server ignored Range.
    private func rangeResponse(_ transfer: Transfer, _ request: RangeRequest) throws(RemoteError) -> RemoteResponse {
        let url = transfer.display
        let etag = transfer.responseHeaders["etag"]
        let lastModified = transfer.responseHeaders["last-modified"].flatMap(HTTPDates.parseHTTPDate)
        let contentRange = transfer.responseHeaders["content-range"]
        if transfer.status == 416 {
            // Reading at or past the end: `bytes */SIZE` still tells the size.
            if let total = contentRange.flatMap(Self.unsatisfiedTotal) {
                return RemoteResponse(bytes: [], totalSize: total, etag: etag, lastModified: lastModified)
            }
            throw RemoteError(.server, url: url, status: 416, message: "range \(request.offset)- not satisfiable")
        }
        try checkStatus(transfer)
        let total: UInt64?
        if transfer.status == 206 {
            guard let contentRange, let (first, last, size) = Self.parseContentRange(contentRange) else {
                throw RemoteError(.server, url: url, status: 206, message: "206 without a readable Content-Range")
            }
            guard first == request.offset, last >= first else {
                throw RemoteError(.server, url: url, status: 206,
                                  message: "asked bytes from \(request.offset), got Content-Range '\(contentRange)'")
            }
            guard UInt64(transfer.body.count) == last - first + 1 || transfer.body.count >= request.length else {
                throw RemoteError(.shortRead, url: url, status: 206,
                                  message: "Content-Range '\(contentRange)' but \(transfer.body.count) bytes came")
            }
            total = size
        } else {
            // 200: the server ignored Range; Content-Length is the object's size.
            total = transfer.responseHeaders["content-length"].flatMap { UInt64($0) }
                ?? (transfer.stoppedOnPurpose ? nil : transfer.position)
        }
        var bytes = transfer.body
        if bytes.count > request.length { bytes.removeLast(bytes.count - request.length) }
        let expected = total.map { request.offset >= $0 ? 0 : Int(min(UInt64(request.length), $0 - request.offset)) }
            ?? request.length
        guard bytes.count >= expected else {
            throw RemoteError(.shortRead, url: url, status: transfer.status,
                              message: "asked \(expected) bytes at offset \(request.offset), got \(bytes.count)")
        }
        return RemoteResponse(bytes: bytes, totalSize: total, etag: etag, lastModified: lastModified)
    }

    /// (first, last, total) of `bytes FIRST-LAST/TOTAL`; total nil for `*`.
    static func parseContentRange(_ value: String) -> (UInt64, UInt64, UInt64?)? {
        guard value.hasPrefix("bytes ") else { return nil }
        let spec = value.dropFirst(6)
        guard let slash = spec.firstIndex(of: "/"), let dash = spec[..<slash].firstIndex(of: "-"),
              let first = UInt64(spec[..<dash]), let last = UInt64(spec[spec.index(after: dash)..<slash]) else { return nil }
        let totalText = spec[spec.index(after: slash)...]
        if totalText == "*" { return (first, last, nil) }
        guard let total = UInt64(totalText), last < total else { return nil }
        return (first, last, total)
    }

    static func unsatisfiedTotal(_ value: String) -> UInt64? {
        guard value.hasPrefix("bytes */") else { return nil }
        return UInt64(value.dropFirst(8))
    }

    /// S3's (and GCS XML's) error code from an error answer's body, e.g. AccessDenied.
    private func s3ErrorCode(_ transfer: Transfer) -> String? {
        let text = String(decoding: transfer.body.prefix(4096), as: UTF8.self)
        guard let open = text.firstRange(of: "<Code>"), let close = text.firstRange(of: "</Code>"),
              open.upperBound <= close.lowerBound else { return nil }
        return String(text[open.upperBound..<close.lowerBound])
    }
}

private let curlInitialized: Bool = {
    dwc_curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
}()

private func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// Idle curl multi handles. The connection cache (and DNS cache) of easy handles driven by a
/// multi handle belongs to the multi handle: reusing multis, rather than making one per call,
/// is what keeps connections alive from one call to the next. A caller takes its own, so
/// concurrent callers never share one.
private final class MultiPool: @unchecked Sendable {
    // @unchecked: a handle is touched only under `lock` (idle) or by the one thread that took it.
    private var idle: [UnsafeMutableRawPointer] = []
    private let lock = Mutex<Void>(())
    private let keep = 16

    func take() -> UnsafeMutableRawPointer? {
        if let multi = lock.withLock({ _ in idle.popLast() }) { return multi }
        guard let multi = dwc_curl_multi_init() else { return nil }
        // Room for the connections of a parallel batch to stay open between calls.
        dwc_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, 64)
        return multi
    }

    func give(_ multi: UnsafeMutableRawPointer) {
        let kept = lock.withLock { _ -> Bool in
            guard idle.count < keep else { return false }
            idle.append(multi)
            return true
        }
        if !kept { dwc_curl_multi_cleanup(multi) }
    }

    deinit { for multi in idle { dwc_curl_multi_cleanup(multi) } }
}

/// Idle curl easy handles. A handle remembers its live connections across curl_easy_reset, so
/// reusing handles is what keeps connections alive between requests.
private final class HandlePool: @unchecked Sendable {
    // @unchecked: a handle is touched only under `lock` (idle) or by the one thread that took it.
    private var idle: [UnsafeMutableRawPointer] = []
    private let lock = Mutex<Void>(())
    private let keep = 32

    func take() -> UnsafeMutableRawPointer {
        if let handle = lock.withLock({ _ in idle.popLast() }) { return handle }
        return dwc_curl_easy_init()!
    }

    func give(_ handle: UnsafeMutableRawPointer) {
        let kept = lock.withLock { _ -> Bool in
            guard idle.count < keep else { return false }
            idle.append(handle)
            return true
        }
        if !kept { dwc_curl_easy_cleanup(handle) }
    }

    func discard(_ handle: UnsafeMutableRawPointer) { dwc_curl_easy_cleanup(handle) }

    deinit { for handle in idle { dwc_curl_easy_cleanup(handle) } }
}
