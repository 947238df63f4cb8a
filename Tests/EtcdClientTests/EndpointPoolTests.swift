@testable import EtcdClient
import Testing
