// swift-tools-version: 6.1
import PackageDescription

// Release builds are tuned for speed without `-march=native`: CPU-specific kernels live in the C target
// `CKernels` behind per-function target attributes and are chosen at run time, so a binary built here runs
// on any x86-64 (and the portable path on other CPUs).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Narwhal",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "narwhal", targets: ["CLI"]),
        .library(name: "DeepSeekV4", targets: ["DeepSeekV4"]),
        .library(name: "Tokenizers", targets: ["Tokenizers"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        .target(name: "CKernels"),
        .target(
            name: "Kernels", dependencies: ["CKernels", .product(name: "HeapModule", package: "swift-collections")],
            exclude: ["README.md"], swiftSettings: swiftSettings),
        .target(name: "Weights", dependencies: ["Kernels"], swiftSettings: swiftSettings),
        .target(name: "Tokenizers", swiftSettings: swiftSettings),
        .target(name: "DeepSeekV4", dependencies: ["Kernels", "Weights"], swiftSettings: swiftSettings),
        .target(
            name: "Generation",
            dependencies: [
                "DeepSeekV4", "Tokenizers", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        .target(
            name: "Server",
            dependencies: [
                "Generation", "Tokenizers",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "CLI",
            dependencies: [
                "DeepSeekV4", "Generation", "Server", "Tokenizers", "Weights",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            resources: [.copy("Resources")],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "KernelsTests", dependencies: ["Kernels"], exclude: ["Emulation"], resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings),
        .testTarget(name: "WeightsTests", dependencies: ["Weights"], swiftSettings: swiftSettings),
        .testTarget(
            name: "TokenizersTests", dependencies: ["Tokenizers"], resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "GenerationTests",
            dependencies: ["Generation", "DeepSeekV4", "Tokenizers", .product(name: "Logging", package: "swift-log")], resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "Server", "Generation", "Tokenizers", "DeepSeekV4",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["Python"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "DeepSeekV4Tests", dependencies: ["DeepSeekV4", "Weights", "Kernels"], resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings),
    ]
)
