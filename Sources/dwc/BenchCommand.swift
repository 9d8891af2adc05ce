import ArgumentParser
import DwcKit

/// Measurements for Scripts/ benchmarks; hidden from help.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measurements used by make bench.", shouldDisplay: false,
        subcommands: [ParseHeaders.self, SampleArchiveCommand.self])

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
