import YAML

/// Step 6 of a render: the bootstrap that loads cds.json and lds.json from the mounted ConfigMap
/// and reloads them when the kubelet swaps the folder's contents (`watched_directory`).
enum Bootstrap {
    static func bootstrap(_ service: MeshService, configPath: String) -> JSON {
        func source(_ file: String) -> JSON {
            ["path_config_source": ["path": .string("\(configPath)/\(file)"), "watched_directory": ["path": .string(configPath)]],
             "resource_api_version": "V3"]
        }
        return ["node": ["id": .string("\(service.name).\(service.namespace)"), "cluster": .string(service.name)],
                "dynamic_resources": ["cds_config": source("cds.json"), "lds_config": source("lds.json")],
                "admin": ["address": ["socket_address": ["address": "127.0.0.1", "port_value": 15000]]]]
    }
}
