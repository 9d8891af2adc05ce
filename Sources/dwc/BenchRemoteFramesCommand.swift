import ArgumentParser
import DwcKit

extension BenchCommand {
    struct RemoteFrames: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remote-frames",
            abstract: "Time retrieve-frames of a URL in process (frames kept in memory); print JSON.",
            discussion: """
            Each call makes a new remote client (new connections), opens the index, reads the \
            object's row and frame table and fetches the frames, delivered as a multipart \
            document into memory. median_call_ms: median of the --repeat calls after the first; \
            first_call_ms: the first call of the process (libcurl and OpenSSL set-up included).
            """)

        @OptionGroup var global: GlobalOptions

        @Option(help: ArgumentHelp("Frames, e.g. 1,3,5-8.", valueName: "list"))
        var frames: String

        @Option(help: ArgumentHelp("Requests made at once (default 8).", valueName: "n"))
        var parallel: Int = 8

        @Option(help: "Calls after the first.")
        var `repeat` = 5

        @Argument(help: "A URL (or any input retrieve-frames takes).")
        var input: String

        func run() throws {
            try global.apply()
            RemoteAccess.parallel = parallel
            var operation = RetrieveFramesOperation(location: global.location)
            operation.inputs = [input]
            operation.frames = try FrameSelection(parsing: frames)
            let r = try RemoteFramesBenchmark().run(operation, rounds: `repeat`)
            Output.write("""
            {"frames": \(r.frames), "output_bytes": \(r.outputBytes), "median_call_ms": \(r.medianCallMilliseconds), \
            "first_call_ms": \(r.firstCallMilliseconds), "requests": \(r.requests), "request_bytes": \(r.requestBytes)}

            """)
        }
    }
}
