import Testing
@testable import DeepSeekV4
