import DicomCore
import DicomParser
import DicomRemote
import Synchronization

/// How this process reads remote inputs (https://, s3://, gs://): the options the global flags
/// set once (`--timeout`, `--s3-endpoint`, the AWS_* environment) and the one client every
/// command shares, so connections stay alive across objects and requests are counted in one place.
public enum RemoteAccess {
    private static let state = Mutex<(options: RemoteOptions, client: RemoteClient?, parallel: Int)>((RemoteOptions.fromEnvironment(), nil, 8))

    /// Sets the options from the global flags; call before the first remote read.
    public static func configure(timeout: Double?, s3Endpoint: String?) {
        var options = RemoteOptions.fromEnvironment(s3Endpoint: s3Endpoint)
        if let timeout { options.timeout = timeout }
        state.withLock { $0 = (options, nil, $0.parallel) }
    }

    /// Requests a batch read makes at once (`retrieve-frames --parallel`, default 8).
    public static var parallel: Int {
        get { state.withLock { $0.parallel } }
        set { state.withLock { $0.parallel = max(1, newValue) } }
    }

    /// Drops the shared client (and its kept connections): the next remote read makes a new
    /// one. For benchmarks that time a first request as a new process would make it.
    public static func resetClient() {
        state.withLock { $0.client = nil }
    }

    public static var client: RemoteClient {
        state.withLock { state in
            if let client = state.client { return client }
            let client = RemoteClient(options: state.options)
            state.client = client
            return client
        }
    }

    /// Requests and bytes so far (for -d and tests), or nil when nothing remote was read.
    public static var statistics: (requests: Int, bytes: UInt64)? {
        state.withLock { $0.client?.statistics }
    }

    public static func isRemote(_ input: String) -> Bool { RemoteURL.isRemote(input) }

    /// A byte source over the object: its first read fetches the header window (size and ETag
    /// come with it); `knownSize`/`etag` from the index skip that.
    static func source(_ input: String, knownSize: UInt64? = nil, etag: String? = nil) throws -> RemoteByteSource {
        do {
            return try RemoteByteSource(url: try RemoteURL(input), client: client, knownSize: knownSize, etag: etag, parallel: parallel)
        } catch {
            throw DwcError(error)
        }
    }

    /// The frame spans of a remote object's encapsulated pixel data: from its Extended or Basic
    /// Offset Table (no further request), else from ONE streaming GET over the item headers —
    /// a random-access scan would cost a request per fragment. Nil for native pixel data.
    static func frameSpans(of file: DicomFile, source: RemoteByteSource) throws -> [FrameSpan]? {
        guard let location = try file.pixelDataLocation(), location.isEncapsulated else { return nil }
        let frames = file.dataSet.int(.numberOfFrames).map { max(1, $0) } ?? 1
        if let (spans, _) = try file.frameSpansFromOffsetTables(location: location, frameCount: frames) {
            return spans
        }
        var scanner = try FrameTableScanner(location: location, frameCount: frames, sourceSize: source.size, sourceName: source.name)
        if !scanner.isComplete {
            try client.stream(source.url, from: scanner.startOffset, ifMatch: source.etag) { chunk in
                try !scanner.consume(chunk)
            }
        }
        return try scanner.finish().spans
    }

    /// Parses a remote object's header and, when the whole data set was asked for, adds the pixel
    /// data element after it without walking its items (each would cost a request): encapsulated
    /// pixel data is taken to run to the end of the object, as it does in nearly every file. An
    /// element after the pixel data (trailing padding, a signature) is not read for URLs.
    static func read(_ source: RemoteByteSource, options: ParseOptions) throws -> DicomFile {
        var headerOptions = options
        headerOptions.stopBefore = .pixelData
        var file = try DicomReader(options: headerOptions).read(from: source)
        guard options.stopBefore == nil, file.stopOffset != nil, let location = try file.pixelDataLocation() else { return file }
        let value: ElementValue
        if let length = location.length {
            value = .bulk(BulkReference(offset: location.valueOffset, length: length))
        } else {
            let tableLength = (location.firstFragmentOffset ?? location.valueOffset + 8) - location.valueOffset - 8
            value = .encapsulated(EncapsulatedPixelData(basicOffsetTable: BulkReference(offset: location.valueOffset + 8, length: tableLength),
                                                        fragments: [], endOffset: source.size))
        }
        file.dataSet.set(DataElement(tag: .pixelData, vr: location.vr ?? (location.isEncapsulated ? .OB : .OW), value: value,
                                     valueOffset: location.valueOffset, hadUndefinedLength: location.isEncapsulated))
        file.stopOffset = nil
        return file
    }
}
