import DicomCore
import DicomDeflate
import DicomIndex
import DicomParser
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `dwc metadata`: the DICOM JSON Model (PS3.18 F.2) of whole instances, as WADO-RS's metadata
/// resources give it, streamed.
///
/// Bulk data is by reference: Pixel Data (7FE0,0010), Float and Double Float Pixel Data at any
/// depth always, other binary values (OB OD OF OL OV OW UN) when longer than `inlineThreshold`.
/// The references are the BulkDataURIs of `dwc dump` (`file:///abs/path?offset=N&length=N`, with
/// `&inflated=1` for deflated files), which `dwc retrieve-bulkdata` resolves. For encapsulated
/// Pixel Data the URI spans the items (offset table and fragments) without the closing Sequence
/// Delimitation Item: the value a Part 10 reader such as pydicom holds.
///
/// Each file is parsed with the bulk threshold at the inline threshold, so values that become
/// references are never read; objects are written in order as soon as their batch (8 files per
/// thread) is done, so memory does not grow with the number of instances.
public struct MetadataOperation: Sendable {
    public enum Format: String, Sendable, CaseIterable { case json, ndjson }

    public var location: ArchiveLocation
    public var selection = InstanceSelection()
    public var format: Format = .json
    public var pretty = true
    /// Binary values up to this many bytes are InlineBinary; longer ones BulkDataURI.
    public var inlineThreshold = 1024
    /// Inline every binary value except pixel data.
    public var inlineAll = false
    /// Add the File Meta Information (group 0002) to each object.
    public var includeMeta = false
    /// Files parsed and encoded at once.
    public var jobs = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    public init(location: ArchiveLocation) { self.location = location }

    public typealias Sink = OutputSink

    public struct Summary: Sendable {
        public var delivered = 0
        public var failed = 0
        /// 0, or 22 when some instances could not be read, 23 when none could.
        public var status: ExitStatus {
            failed == 0 ? .ok : (delivered == 0 ? .noValidInput : .invalidInput)
        }
    }

    /// Resolves the selection (errors before any output), then writes the objects in order. A
    /// file that cannot be read is reported through `sink.error` and left out. Files are parsed
    /// and encoded on `jobs` threads, a small batch at a time, so memory stays bounded.
    /// `index`, when given, is an index already open on `location` (else it is opened here when
    /// the selection needs it).
    public func run(sink: Sink, index: ArchiveIndex? = nil) throws -> Summary {
        let instances = try InstanceResolver(location: location).resolve(selection, openIndex: index)
        var summary = Summary()
        let asArray = format == .json
        let pretty = self.pretty && format == .json
        if asArray { sink.write(pretty ? Array("[\n".utf8) : [UInt8(ascii: "[")]) }
        let batchSize = max(1, jobs) * Self.filesPerThread
        var start = 0
        while start < instances.count {
            let batch = Array(instances[start..<min(instances.count, start + batchSize)])
            start += batch.count
            for result in convert(batch, pretty: pretty) {
                switch result {
                case .failure(let error):
                    summary.failed += 1
                    sink.error(error.message)
                case .success(let converted):
                    for warning in converted.warnings { sink.warning(warning) }
                    if asArray {
                        if summary.delivered > 0 { sink.write(pretty ? Array(",\n".utf8) : [UInt8(ascii: ",")]) }
                        sink.write(pretty ? Self.indented(converted.json) : converted.json)
                    } else {
                        sink.write(converted.json + [10])
                    }
                    summary.delivered += 1
                }
            }
        }
        if asArray { sink.write(pretty ? Array((summary.delivered > 0 ? "\n]\n" : "]\n").utf8) : Array("]\n".utf8)) }
        return summary
    }

    /// One instance's JSON object and the reader's warnings about its file.
    struct Converted: Sendable {
        var json: [UInt8]
        var warnings: [String]
    }

    /// Files per thread in a full batch, and the fewest worth another thread.
    static let filesPerThread = 8

    /// The instances of a batch, converted on up to `jobs` threads; results in batch order.
    func convert(_ batch: [ResolvedInstance], pretty: Bool) -> [Result<Converted, DwcError>] {
        let one = { @Sendable (instance: ResolvedInstance) -> Result<Converted, DwcError> in
            do { return .success(try self.object(for: instance, pretty: pretty)) } catch { return .failure(DwcError(error)) }
        }
        // Starting threads costs about half a millisecond in a fresh process, more than a few
        // small files take to convert: a thread only for every `filesPerThread` files.
        let workers = max(1, min(jobs, batch.count / Self.filesPerThread))
        if workers == 1 { return batch.map(one) }
        let results = Mutex<[Result<Converted, DwcError>?]>(Array(repeating: nil, count: batch.count))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for i in stride(from: worker, to: batch.count, by: workers) {
                let result = one(batch[i])
                results.withLock { $0[i] = result }
            }
        }
        return results.withLock { $0 }.map { $0! }
    }

    /// The JSON object of one instance.
    func object(for instance: ResolvedInstance, pretty: Bool) throws -> Converted {
        var options = ParseOptions(deflate: ZlibDeflateCodec())
        let fromStandardInput = instance.isStandardInput
        // stdin has no file to refer to: its values are in memory anyway and are inlined.
        let threshold = inlineAll || fromStandardInput ? Int.max : max(0, inlineThreshold)
        options.bulkThreshold = threshold
        let file: DicomFile
        do {
            file = fromStandardInput ? try DicomReader(options: options).read(from: DicomFileLoader.standardInput())
                : try DicomFileLoader.parse(instance.path, options: options)
        } catch {
            throw DwcError(error)
        }
        let name = fromStandardInput ? "<stdin>" : instance.path
        var warnings = file.warnings.map { "\(name): \($0)" }

        var dataSet = file.dataSet
        if includeMeta {
            for element in file.fileMeta.elements { dataSet.set(try metaElement(element, file: file, path: instance.path)) }
        }

        var json = DicomJSONOptions(inlineThreshold: threshold, pretty: pretty)
        json.pixelDataByReference = true
        json.loadValue = { element in try DumpOperation.valueBytes(of: element, in: file) }
        if !fromStandardInput {
            let base = BulkDataURI.fileURI(path: instance.path)
            let inflated = file.transferSyntax.isDeflated
            json.bulkDataURI = { element in
                if element.tag.isPixelData, let span = Self.pixelDataSpan(element) {
                    return span.length == 0 ? nil : BulkDataURI.make(base: base, offset: span.offset, length: span.length, inflated: inflated)
                }
                let (offset, length) = DumpOperation.span(of: element)
                // File meta elements lie in the file itself, never in the inflated data set.
                return BulkDataURI.make(base: base, offset: offset, length: length, inflated: inflated && element.tag.group != 0x0002)
            }
        } else if Self.hasPixelData(dataSet) {
            warnings.append("\(name): no file to refer to: Pixel Data is written without a value")
        }
        var writer = JSONWriter(pretty: pretty)
        do {
            try DicomJSONEncoder(options: json).write(dataSet, to: &writer)
        } catch {
            throw DwcError(error)
        }
        return Converted(json: writer.bytes, warnings: warnings)
    }

    /// A file meta element as a value in memory (the meta is small; in a deflated file its bulk
    /// references would point into the file, not into the inflated data set).
    private func metaElement(_ element: DataElement, file: DicomFile, path: String) throws -> DataElement {
        guard case .bulk(let reference) = element.value else { return element }
        var copy = element
        do {
            if file.transferSyntax.isDeflated {
                let source = try FileByteSource(path: path)
                copy.value = .bytes(try source.read(offset: reference.offset, length: Int(reference.length)))
            } else {
                copy.value = .bytes(try file.load(reference))
            }
        } catch {
            throw DwcError(error)
        }
        return copy
    }

    /// The bytes a pixel data element's BulkDataURI names: a native value as it stands; for
    /// encapsulated pixel data the items (offset table and fragments, with their item headers)
    /// without the Sequence Delimitation Item, the value a Part 10 reader such as pydicom holds.
    /// Nil for other values.
    static func pixelDataSpan(_ element: DataElement) -> (offset: UInt64, length: UInt64)? {
        switch element.value {
        case .bulk(let reference):
            return (reference.offset, reference.length)
        case .encapsulated(let pixels):
            return (element.valueOffset, itemsEnd(pixels, valueOffset: element.valueOffset) - element.valueOffset)
        case .bytes, .sequence:
            return nil
        }
    }

    /// Whether a pixel data value with bytes behind it is anywhere in the data set.
    static func hasPixelData(_ dataSet: DataSet) -> Bool {
        dataSet.elements.contains { element in
            if case .sequence(let items) = element.value { return items.contains(where: hasPixelData) }
            guard element.tag.isPixelData, let span = pixelDataSpan(element) else { return false }
            return span.length > 0
        }
    }

    /// Where the last item of encapsulated pixel data ends: the value without the Sequence
    /// Delimitation Item (and without stray bytes a defective file may have after its items).
    static func itemsEnd(_ pixels: EncapsulatedPixelData, valueOffset: UInt64) -> UInt64 {
        if let last = pixels.fragments.last { return last.offset + last.length }
        // The offset table is the first item, right after the element header, when there is one.
        let table = pixels.basicOffsetTable
        return table.offset == valueOffset + 8 ? table.offset + table.length : valueOffset
    }

    /// A pretty object moved one level in, as an element of a pretty array.
    static func indented(_ object: [UInt8]) -> [UInt8] {
        // JSON strings escape their newlines, so every newline byte is layout.
        let newlines = object.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
        return [UInt8](unsafeUninitializedCapacity: object.count + 2 * (newlines + 1)) { buffer, count in
            var i = 0
            buffer[0] = 32; buffer[1] = 32
            i = 2
            for byte in object {
                buffer[i] = byte
                i += 1
                if byte == 10 { buffer[i] = 32; buffer[i + 1] = 32; i += 2 }
            }
            count = i
        }
    }
}
