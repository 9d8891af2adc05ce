import ArgumentParser
import DicomIndex
import DwcKit

/// Measurements for Scripts/ benchmarks; hidden from help.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measurements used by make bench.", shouldDisplay: false,
        subcommands: [ParseHeaders.self, Frames.self, RemoteFrames.self, Search.self, Metadata.self, SyntheticIndex.self, BenchDecodeCommand.self, SampleArchiveCommand.self])

    struct ParseHeaders: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "parse-headers",
            abstract: "Parse the header (stop before pixel data) of every file under PATHs; print JSON timings.")

        @Option(help: "Rounds over all files.")
        var `repeat` = 3

        @Argument(help: "Files or directories.")
        var paths: [String]

        func run() throws {
            let r = ParseBenchmark().run(paths: paths, repeat: `repeat`)
            Output.write("""
            {"files": \(r.files), "failed": \(r.failed), "median_us_per_file": \(r.medianMicroseconds), \
            "files_per_s": \(r.filesPerSecond), "bytes_read": \(r.bytesRead), "source_bytes": \(r.sourceBytes), \
            "peak_rss_kb": \(r.peakRSSKilobytes)}

            """)
        }
    }
}

extension BenchCommand {
    struct Frames: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "frames",
            abstract: "Locate the frames of FILE, then read the listed frames one by one; print JSON timings.")

        @Option(help: "Frames to read, e.g. 1,500,1000-1010.")
        var frames: String

        @Argument(help: "A multi-frame DICOM file.")
        var file: String

        func run() throws {
            let list = try FrameSelection(parsing: frames).ranges.flatMap { Array($0) }
            let r = try FrameBenchmark().run(path: file, frames: list)
            Output.write("""
            {"frames": \(r.frames), "origin": "\(r.origin)", "first_access_ms": \(r.firstAccessMilliseconds), \
            "bytes_read_first_access": \(r.bytesReadFirstAccess), "file_size": \(r.fileSize), \
            "median_us_per_frame": \(r.medianMicrosecondsPerFrame), "mean_us_per_frame": \(r.meanMicrosecondsPerFrame), \
            "peak_rss_kb": \(r.peakRSSKilobytes)}

            """)
        }
    }
}

extension BenchCommand {
    struct Search: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "search", abstract: "Time a search in process (output discarded); print JSON.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "studies, series or instances.")
        var level: SearchOperation.Level

        @Option(name: .customShort("k"), help: "KEY[=VALUE], as for dwc search.")
        var keys: [String] = []

        @Option(help: "Output format to produce (and discard).")
        var format: SearchOperation.Format = .json

        @Option(help: "Rounds.")
        var `repeat` = 5

        @Option(help: "At most N results, as dwc search --limit.")
        var limit: Int?

        func run() throws {
            var query = SearchQuery(level: level.queryLevel)
            query.keys = try keys.map { try QueryKey(parsing: $0, level: level.queryLevel) }
            query.limit = limit
            var operation = SearchOperation(location: global.location, query: query)
            operation.format = format
            let t = try SearchBenchmark().time(operation, rounds: `repeat`)
            // median_ms: the query on an open index; open_ms: opening it; open_query_ms: both.
            Output.write("{\"results\": \(t.results), \"median_ms\": \(t.query * 1000), \"open_ms\": \(t.open * 1000), "
                         + "\"open_query_ms\": \(t.openAndQuery * 1000)}\n")
        }
    }

    struct SyntheticIndex: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "synthetic-index", abstract: "Fill an index file with N synthetic instances (no files).")

        @Option(help: "Instances.")
        var instances = 1_000_000

        @Argument(help: "Index file to (re)create.")
        var index: String

        func run() throws {
            try SearchBenchmark().makeSyntheticIndex(path: index, instances: instances) { done in
                if done % 100_000 == 0 { Output.info("\(done) instances") }
            }
        }
    }
}

extension BenchCommand {
    struct Metadata: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "metadata",
            abstract: "Time dwc metadata in process on an index opened once (output to /dev/null); print JSON.",
            discussion: """
            Opens the index once, then runs the metadata operation --repeat times more after a \
            first call (reported apart), as a client with an open database makes calls. \
            median_call_ms: median of those calls (index query, every file read and parsed, DICOM \
            JSON written to /dev/null in 64 KiB writes). open_ms: median of --repeat opens of the \
            index alone. first_call_ms: the first call (cold threads and caches).
            """)

        @OptionGroup var global: GlobalOptions

        @Option(help: ArgumentHelp("Series Instance UID.", valueName: "uid"))
        var series: String?

        @Option(help: ArgumentHelp("Study Instance UID.", valueName: "uid"))
        var study: String?

        @Flag(help: "JSON without indentation.")
        var compact = false

        @Option(name: .customShort("j", allowingJoined: true), help: ArgumentHelp("Files read at once (default: the number of cores).", valueName: "n"))
        var jobs: Int?

        @Option(help: "Calls after the first.")
        var `repeat` = 20

        func run() throws {
            try global.apply()
            var operation = MetadataOperation(location: global.location)
            operation.selection = InstanceSelection(studyUID: study, seriesUID: series)
            if operation.selection.isEmpty { throw ValidationError("give --series or --study") }
            operation.pretty = !compact
            if let jobs { operation.jobs = jobs }
            let r = try MetadataBenchmark().run(operation, rounds: `repeat`)
            Output.write("""
            {"instances": \(r.instances), "output_bytes": \(r.outputBytes), "median_call_ms": \(r.medianCallMilliseconds), \
            "first_call_ms": \(r.firstCallMilliseconds), "open_ms": \(r.medianOpenMilliseconds)}

            """)
        }
    }
}

struct SampleArchiveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample-archive",
        abstract: "Write a small synthetic archive (every native transfer syntax) under DIR.")

    @Argument(help: "Output directory.")
    var directory: String

    func run() throws {
        let paths = try SampleArchive().write(to: directory)
        Output.write("\(paths.count) files written under \(directory)\n")
    }
}
