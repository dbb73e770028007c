// parallelFor: the only threading primitive of the kernels. Work items are pulled from a shared counter
// by a fixed pool of persistent worker threads plus the calling thread, so a descheduled worker only
// delays the items it holds. Between jobs, workers (and the caller waiting for them) spin for a few tens
// of microseconds before parking on a condition variable: a decode step is hundreds of parallel loops
// microseconds apart, and a futex wake-up per loop costs more than the spin (decode on the tiny model
// 300–360 → 360–380 tok/s; within noise on the Flash-shape model, whose loops are long), while a thread
// that finds no work soon still sleeps, so a busy core is not fought over.

import CKernels
import Foundation
import Synchronization

/// Wraps a raw pointer so it can cross into worker closures. The caller guarantees disjoint writes.
public struct UnsafeSendable<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}

/// Runs `body(i)` for i in 0..<count across the pool; returns when all are done.
public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    if count <= 1 || ThreadPool.shared.workerCount == 0 {
        for i in 0..<count { body(i) }
        return
    }
    withoutActuallyEscaping(body) { escaping in
        ThreadPool.shared.run(count: count, body: escaping)
    }
}

/// Runs `body` on consecutive ranges of 0..<rows across the pool, each about 16K values of `cols`-wide rows:
/// the per-token glue of a prefill chunk splits across threads, while a decode step (one row) runs inline
/// without waking the pool.
public func parallelRows(_ rows: Int, cols: Int, _ body: (Range<Int>) -> Void) {
    let perChunk = max(1, 16384 / max(1, cols))
    parallelFor((rows + perChunk - 1) / perChunk) { chunk in
        body((chunk * perChunk)..<min(rows, (chunk + 1) * perChunk))
    }
}

public final class ThreadPool: @unchecked Sendable {
    /// Number of threads to use: NARWHAL_THREADS, else the active processor count.
    public static let shared = ThreadPool(
        threads: ProcessInfo.processInfo.environment["NARWHAL_THREADS"].flatMap(Int.init)
            ?? ProcessInfo.processInfo.activeProcessorCount)

    public let workerCount: Int
    // Guards job, generation and active. A worker takes a job only under this lock and counts itself in
    // `active`; `run` clears the job only once no worker holds it, so no worker ever calls a body
    // whose scope has ended.
    private let condition = NSCondition()
    private var generation = 0
    private var job: ((Int) -> Void)?
    private var jobCount = 0
    private var active = 0
    private let next = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    /// Mirrors of `generation` and `active` for lock-free spinning (the locked values stay authoritative).
    private let published = Atomic<Int>(0)
    private let running = Atomic<Int>(0)
    /// How long an idle thread spins before parking.
    static let spinNanoseconds: UInt64 = 50_000
    private let serial = NSLock()  // one job at a time

    init(threads: Int) {
        workerCount = max(0, threads - 1)
        for _ in 0..<workerCount {
            let t = Thread { [unowned self] in self.workerLoop() }
            t.stackSize = 8 << 20
            t.start()
        }
    }

    func run(count: Int, body: @escaping (Int) -> Void) {
        // A nested call (from inside a body) or a concurrent caller runs inline instead of waiting.
        guard serial.try() else {
            for i in 0..<count { body(i) }
            return
        }
        defer { serial.unlock() }
        next.store(0, ordering: .relaxed)
        finished.store(0, ordering: .relaxed)
        condition.lock()
        job = body
        jobCount = count
        generation &+= 1
        published.store(generation, ordering: .releasing)
        condition.broadcast()
        condition.unlock()
        drain(body, count: count)
        spin { self.finished.load(ordering: .acquiring) >= count && self.running.load(ordering: .acquiring) == 0 }
        condition.lock()
        while finished.load(ordering: .acquiring) < count || active > 0 { condition.wait() }
        job = nil
        condition.unlock()
    }

    private func drain(_ body: (Int) -> Void, count: Int) {
        var did = 0
        while true {
            let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
            if i >= count { break }
            body(i)
            did += 1
        }
        if did > 0 { finished.wrappingAdd(did, ordering: .releasing) }
    }

    private func workerLoop() {
        var seen = 0
        while true {
            spin { self.published.load(ordering: .acquiring) != seen }
            condition.lock()
            while generation == seen || job == nil { condition.wait() }
            seen = generation
            active += 1
            running.wrappingAdd(1, ordering: .relaxed)
            condition.unlock()
            // The job is taken and dropped inside this call, so no reference to it outlives `active`.
            takeAndDrain()
            condition.lock()
            active -= 1
            running.wrappingSubtract(1, ordering: .releasing)
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Spins until `done()` or `spinNanoseconds` have passed (the clock read every 64 checks).
    private func spin(until done: () -> Bool) {
        let deadline = DispatchTime.now().uptimeNanoseconds + Self.spinNanoseconds
        while !done() {
            for _ in 0..<64 { nw_cpu_relax() }
            if DispatchTime.now().uptimeNanoseconds > deadline { return }
        }
    }

    @inline(never)
    private func takeAndDrain() {
        condition.lock()
        let body = job
        let count = jobCount
        condition.unlock()
        if let body { drain(body, count: count) }
    }
}
