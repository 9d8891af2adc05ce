import DicomIndex
import Dispatch
import Synchronization

/// One batch of files parsed by worker threads, which the writer joins as soon as it has
/// written the batch before: with the writer idle while the workers finished a batch, a cold
/// index of the 5,000-file corpus left a sixth of the second core unused.
final class BatchParse: Sendable {
    typealias Result = (file: IndexedFile, message: String?, isProblem: Bool)

    private let batch: [FileFeed.Item]
    private let loader: DicomFileLoader
    /// The next file to claim.
    private let next = Atomic<Int>(0)
    private let results: Mutex<[Result?]>
    private let workers = DispatchGroup()

    /// Starts `jobs` workers on the batch.
    init(_ batch: [FileFeed.Item], jobs: Int, loader: DicomFileLoader) {
        self.batch = batch
        self.loader = loader
        results = Mutex(Array(repeating: nil, count: batch.count))
        for _ in 0..<max(1, min(jobs, batch.count)) {
            workers.enter()
            DispatchQueue.global().async { [self] in
                work()
                workers.leave()
            }
        }
    }

    /// Parses files of the batch until none is left to claim.
    private func work() {
        let cache = SearchValueCache()
        while true {
            let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
            guard i < batch.count else { return }
            let result = IndexOperation.examine(file: batch[i].file, stored: batch[i].stored, loader: loader, cache: cache)
            results.withLock { $0[i] = result }
        }
    }

    /// Helps with the files not yet claimed, waits for the workers' last ones, and returns the
    /// batch in file order.
    func finish() -> IndexOperation.ParsedBatch {
        work()
        workers.wait()
        let all = results.withLock { $0 }.compactMap { $0 }
        return IndexOperation.ParsedBatch(files: all.map(\.file),
                                          messages: all.compactMap { r in r.message.map { ($0, r.isProblem) } })
    }
}
