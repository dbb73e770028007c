// ServerMetrics: `GET /health`, and what `GET /metrics` reports, recorded through swift-metrics into a Prometheus registry
// owned by this server (not the process-wide MetricsSystem, so tests can run several servers side by
// side without sharing counters).
//
//   narwhal_requests_total{endpoint, status}          requests answered, by endpoint and HTTP status
//   narwhal_requests_in_flight                         generating requests being served (queued or not)
//   narwhal_queue_depth                                requests waiting for a free slot
//   narwhal_slots                                      slots generating at once (--parallel)
//   narwhal_prompt_tokens_total                        prompt tokens of finished generations
//   narwhal_prompt_cache_hit_tokens_total              …of which reused from a slot or the disk prefix cache
//   narwhal_completion_tokens_total                    generated tokens (reasoning included)
//   narwhal_reasoning_tokens_total                     …of which reasoning
//   narwhal_completion_tokens_per_second               generated tokens per second over the last 10 s,
//                                                      all requests together
//   narwhal_request_tokens_per_second                  histogram of each request's own decode speed

import Foundation
import Generation
import Hummingbird
import CoreMetrics
import Prometheus
import ServiceLifecycle
import Tokenizers

/// The server's metrics and the registry `/metrics` renders.
final class ServerMetrics: @unchecked Sendable {
    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    // Qualified: Prometheus has its own Counter and Gauge; these are swift-metrics' API.
    private let inFlight: CoreMetrics.Meter
    private let queueDepth: CoreMetrics.Gauge
    private let slots: CoreMetrics.Gauge
    private let promptTokens: CoreMetrics.Counter
    private let cachedTokens: CoreMetrics.Counter
    private let completionTokens: CoreMetrics.Counter
    private let reasoningTokens: CoreMetrics.Counter
    private let throughput: CoreMetrics.Gauge
    private let requestSpeed: CoreMetrics.Recorder

    /// Guards `window`: (time, tokens) of generations finished in the last `windowLength`.
    private let lock = NSLock()
    private var window: [(time: Date, tokens: Int)] = []
    private let windowLength: TimeInterval = 10

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.valueHistogramBuckets["narwhal_request_tokens_per_second"] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
        self.factory = factory
        inFlight = CoreMetrics.Meter(label: "narwhal_requests_in_flight", factory: factory)
        queueDepth = CoreMetrics.Gauge(label: "narwhal_queue_depth", factory: factory)
        slots = CoreMetrics.Gauge(label: "narwhal_slots", factory: factory)
        promptTokens = CoreMetrics.Counter(label: "narwhal_prompt_tokens_total", factory: factory)
        cachedTokens = CoreMetrics.Counter(label: "narwhal_prompt_cache_hit_tokens_total", factory: factory)
        completionTokens = CoreMetrics.Counter(label: "narwhal_completion_tokens_total", factory: factory)
        reasoningTokens = CoreMetrics.Counter(label: "narwhal_reasoning_tokens_total", factory: factory)
        throughput = CoreMetrics.Gauge(label: "narwhal_completion_tokens_per_second", factory: factory)
        requestSpeed = CoreMetrics.Recorder(label: "narwhal_request_tokens_per_second", aggregate: true, factory: factory)
    }

    /// A generation was asked for (it may wait for a slot first) / is over.
    func requestStarted() { inFlight.increment() }
    func requestEnded() { inFlight.decrement() }

    /// A request was answered with `status` (for streams: the status the stream began with).
    func requestAnswered(endpoint: String, status: Int) {
        CoreMetrics.Counter(label: "narwhal_requests_total", dimensions: [("endpoint", endpoint), ("status", String(status))],
                factory: factory).increment()
    }

    /// A generation finished: its usage, and how long its decoding took (first to last event).
    func generationFinished(_ usage: Usage, decodeSeconds: Double) {
        promptTokens.increment(by: usage.promptTokens)
        cachedTokens.increment(by: usage.cachedPromptTokens)
        completionTokens.increment(by: usage.completionTokens)
        reasoningTokens.increment(by: usage.reasoningTokens)
        if decodeSeconds > 0 && usage.completionTokens > 1 {
            requestSpeed.record(Double(usage.completionTokens) / decodeSeconds)
        }
        lock.lock()
        window.append((Date(), usage.completionTokens))
        lock.unlock()
    }

    /// The Prometheus text, with the gauges that are read rather than pushed brought up to date.
    func render(engine: any ChatEngine) -> String {
        queueDepth.record(engine.queued)
        slots.record(engine.parallel)
        let now = Date()
        lock.lock()
        window.removeAll { now.timeIntervalSince($0.time) > windowLength }
        let recent = window.reduce(0) { $0 + $1.tokens }
        lock.unlock()
        throughput.record(Double(recent) / windowLength)
        return registry.emitToString()
    }
}

extension ServerState {
    /// `GET /health`: 200 with the slots and the queue while serving, 503 once shutting down.
    func health() -> Response {
        let shuttingDown = Task.isShuttingDownGracefully
        let body: JSONValue = [
            "status": shuttingDown ? "shutting_down" : "ok",
            "model": .string(configuration.servedModelNames.first ?? ModelNames.flash),
            "slots": .integer(String(engine.parallel)), "queued": .integer(String(engine.queued)),
            "context": .integer(String(engine.contextLimit)),
        ]
        return Response.json(body, status: shuttingDown ? .serviceUnavailable : .ok)
    }

    /// `GET /metrics` in Prometheus' text format.
    func metricsText() -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: metrics.render(engine: engine))))
    }
}
