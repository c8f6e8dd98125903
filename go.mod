module github.com/hiertune/hiertune

go 1.26.8

require (
	github.com/nlpodyssey/spago v1.1.0
	github.com/yalue/onnxruntime_go v1.27.0
	go.yaml.in/yaml/v3 v3.0.6
	golang.org/x/sys v0.50.0
	golang.org/x/text v0.44.0
	gonum.org/v1/gonum v0.17.0
	google.golang.org/protobuf v1.36.12
)

require github.com/google/flatbuffers v23.5.26+incompatible // indirect
