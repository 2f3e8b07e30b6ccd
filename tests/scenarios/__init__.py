"""One scenario suite, three brokers: the memory broker, librdkafka's mock cluster, Kafka 4.4."""
