#if canImport(Glibc)
import Glibc
#endif

/// Files to parse, handed from the thread that walks the tree to the indexer as they are found:
/// parsing starts before the walk of a large tree ends. One producer, one consumer.
final class FileFeed: @unchecked Sendable {
    typealias Item = (file: FoundFile, stored: String)

    // A pthread mutex and condition at fixed addresses (a Swift stored property may move).
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    // Guarded by `mutex`.
    private var pending: [Item] = []
    private var finished = false
    private var appended = 0
    /// How many files the waiting consumer needs: the producer wakes it only then.
    private var wanted = Int.max

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// Files fed so far (all of them once `finish` was called).
    var count: Int { locked { appended } }

    func append(_ file: FoundFile, stored: String) {
        locked {
            pending.append((file, stored))
            appended += 1
            if pending.count >= wanted { pthread_cond_signal(condition) }
        }
    }

    /// No more files will come.
    func finish() {
        locked {
            finished = true
            pthread_cond_broadcast(condition)
        }
    }

    /// The next `max` files in the order they were fed, fewer at the end; waits for the walk
    /// until there are that many. nil when the walk is over and every file was taken.
    func next(max: Int) -> [Item]? {
        locked {
            wanted = max
            while pending.count < max, !finished { pthread_cond_wait(condition, mutex) }
            wanted = Int.max
            guard !pending.isEmpty else { return nil }
            let batch = Array(pending.prefix(max))
            pending.removeFirst(batch.count)
            return batch
        }
    }
}
