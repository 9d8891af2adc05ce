import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Runs a closure on a POSIX thread of its own, outside Dispatch's pool. Long work beside a
/// concurrentPerform must not sit on a pool thread: the pool has one thread per core, and the
/// parse of a batch then ran on one core while the index walk held the other pool thread.
enum DetachedThread {
    private final class Work {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    static func start(_ body: @escaping @Sendable () -> Void) {
        let work = Unmanaged.passRetained(Work(body)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            Unmanaged<Work>.fromOpaque(raw).takeRetainedValue().body()
            return nil
        }, work)
        if status == 0 {
            pthread_detach(thread)
        } else {
            // No thread to be had: the pool still runs it, only less in parallel.
            Unmanaged<Work>.fromOpaque(work).release()
            DispatchQueue.global().async(execute: body)
        }
    }
}
