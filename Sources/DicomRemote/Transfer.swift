import CCurl

/// One HTTP GET's request and what curl's callbacks collect of its answer (reset per attempt).
/// Owned by one thread at a time: the one driving the curl_multi loop it runs in.
final class Transfer {
    enum Mode {
        /// `length` bytes from `offset` (Range header). A server that ignores Range answers 200
        /// with the whole object: the slice is kept and the transfer stops once it has passed.
        case range(offset: UInt64, length: Int)
        /// The whole answer (listings), at most `limit` bytes.
        case whole(limit: Int)
        /// From `offset` to the end, handed to `chunk` as it arrives; false stops early.
        case stream(offset: UInt64, chunk: ([UInt8]) throws -> Bool)
    }

    let display: String
    let httpURL: String
    let mode: Mode
    /// The request headers (also in `headerList` for curl).
    let headers: [String]
    private(set) var headerList: UnsafeMutablePointer<curl_slist>?
    let followRedirects: Bool
    /// Attempts made so far (1 after the first).
    var attempts = 0

    // Per attempt.
    var status = 0
    var responseHeaders: [String: String] = [:]
    var body: [UInt8] = []
    /// Body bytes seen this attempt (counting those skipped in a 200 answer to a Range request).
    var position: UInt64 = 0
    /// Body bytes received over all attempts, for the client's statistics.
    var received: UInt64 = 0
    var stoppedOnPurpose = false
    var callbackError: (any Error)?
    /// curl writes its error text here; allocated (not an Array) so its address stays valid
    /// for as long as curl holds it.
    private let errorBuffer: UnsafeMutablePointer<CChar>

    init(display: String, httpURL: String, headers: [String], mode: Mode, followRedirects: Bool) {
        self.display = display
        self.httpURL = httpURL
        self.mode = mode
        self.headers = headers
        self.followRedirects = followRedirects
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        for header in headers { headerList = dwc_curl_slist_append(headerList, header) }
    }

    deinit {
        dwc_curl_slist_free_all(headerList)
        errorBuffer.deallocate()
    }

    func resetForAttempt() {
        status = 0
        responseHeaders = [:]
        body = []
        position = 0
        stoppedOnPurpose = false
        callbackError = nil
        errorBuffer[0] = 0
    }

    /// Sets this transfer's options on a (reset) easy handle.
    func configure(_ handle: UnsafeMutableRawPointer, timeout: Double) {
        resetForAttempt()
        attempts += 1
        dwc_curl_easy_reset(handle)
        let context = Unmanaged.passUnretained(self).toOpaque()
        dwc_curl_setopt_string(handle, CURLOPT_URL, httpURL)
        dwc_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList)
        dwc_curl_setopt_callback(handle, CURLOPT_WRITEFUNCTION, transferWriteCallback)
        dwc_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context)
        dwc_curl_setopt_callback(handle, CURLOPT_HEADERFUNCTION, transferHeaderCallback)
        dwc_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, context)
        dwc_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        // Threads: no SIGALRM-based DNS timeouts.
        dwc_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        let milliseconds = max(1, Int(timeout * 1000))
        dwc_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, milliseconds)
        dwc_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, milliseconds)
        dwc_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, followRedirects ? 1 : 0)
        dwc_curl_setopt_long(handle, CURLOPT_MAXREDIRS, 5)
        dwc_curl_setopt_long(handle, CURLOPT_PROTOCOLS, Int(CURLPROTO_HTTP | CURLPROTO_HTTPS))
        dwc_curl_setopt_long(handle, CURLOPT_REDIR_PROTOCOLS, Int(CURLPROTO_HTTP | CURLPROTO_HTTPS))
        dwc_curl_setopt_string(handle, CURLOPT_USERAGENT, "dwc")
        dwc_curl_setopt_long(handle, CURLOPT_TCP_NODELAY, 1)
    }

    /// The curl error text of the last attempt.
    func curlMessage(_ code: CURLcode) -> String {
        let buffer = String(cString: errorBuffer)
        return buffer.isEmpty ? String(cString: dwc_curl_easy_strerror(code)) : buffer
    }

    /// The response headers the client reads; others are skipped without making Strings (a
    /// frame's answer has about ten header lines, and a String per line was 5 % of the CPU
    /// of a 100-frame retrieval).
    static let keptHeaders: Set<[UInt8]> = Set(["etag", "last-modified", "content-range", "content-length", "location"].map { Array($0.utf8) })

    fileprivate func header(_ line: UnsafeRawBufferPointer) {
        if line.starts(with: "HTTP/".utf8) {
            // A new answer (after a redirect or a 100 Continue): forget the previous one's.
            // The status is the three digits after the first space.
            var code = 0
            if let space = line.firstIndex(of: 0x20) {
                for byte in line[(space + 1)...].prefix(3) {
                    guard byte >= 0x30, byte <= 0x39 else { code = 0; break }
                    code = code * 10 + Int(byte - 0x30)
                }
            }
            status = code
            responseHeaders = [:]
            body = []
            position = 0
            return
        }
        guard let colon = line.firstIndex(of: 0x3A) else { return }
        // Header names are ASCII and case-insensitive.
        let name = line[..<colon].map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
        guard Self.keptHeaders.contains(name) else { return }
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }
        var start = colon + 1, end = line.count
        while start < end, isSpace(line[start]) { start += 1 }
        while end > start, isSpace(line[end - 1]) { end -= 1 }
        responseHeaders[String(decoding: name, as: UTF8.self)] = String(decoding: line[start..<end], as: UTF8.self)
    }

    /// Returns false to make curl stop the transfer.
    fileprivate func data(_ chunk: UnsafeRawBufferPointer) -> Bool {
        received += UInt64(chunk.count)
        let start = position
        position += UInt64(chunk.count)
        guard (200..<300).contains(status) else {
            // An error answer: keep the start of it for the message (S3's XML <Code>).
            if body.count < 16384 { body.append(contentsOf: chunk.prefix(16384 - body.count)) }
            return true
        }
        switch mode {
        case .range(let offset, let length):
            if status == 206 {
                // Never hold more than was asked, whatever the server sends.
                let room = length - body.count
                body.append(contentsOf: chunk.prefix(room))
                if chunk.count > room { stoppedOnPurpose = true; return false }
                return true
            }
            // 200: the whole object; keep [offset, offset + length).
            let end = offset + UInt64(length)
            let from = max(start, offset), to = min(position, end)
            if from < to { body.append(contentsOf: chunk[Int(from - start)..<Int(to - start)]) }
            if position >= end { stoppedOnPurpose = true; return false }
            return true
        case .whole(let limit):
            guard body.count + chunk.count <= limit else {
                callbackError = RemoteError(.listing, url: display, message: "answer larger than \(limit) bytes")
                return false
            }
            body.append(contentsOf: chunk)
            return true
        case .stream(let offset, let handler):
            // A 200 answer to a Range request starts at byte 0: skip to `offset`.
            let skip = status == 200 && offset > start ? Int(min(UInt64(chunk.count), offset - start)) : 0
            guard skip < chunk.count else { return true }
            do {
                if try handler(Array(chunk[skip...])) { return true }
                stoppedOnPurpose = true
            } catch {
                callbackError = error
            }
            return false
        }
    }
}

private let transferWriteCallback: dwc_curl_data_callback = { data, size, count, context in
    let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
    let bytes = UnsafeRawBufferPointer(start: data, count: size * count)
    return transfer.data(bytes) ? size * count : 0
}

private let transferHeaderCallback: dwc_curl_data_callback = { data, size, count, context in
    let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
    transfer.header(UnsafeRawBufferPointer(start: data, count: size * count))
    return size * count
}
