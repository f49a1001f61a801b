package sentiment

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
)

// Labels a review can get.
const (
	Positive = "positive"
	Negative = "negative"
)

// Result is the classifier's reading of one review.
type Result struct {
	Lang  Lang    `json:"lang"`
	Label string  `json:"label"` // Positive or Negative
	Score float64 `json:"score"` // probability of Label, 0.5..1
}

// langModel is a logistic regression over hashed features for one language,
// with a Platt scaling (A·z + B) fitted on held-out data so Score is a
// calibrated probability.
type langModel struct {
	Bias   float64
	PlattA float64
	PlattB float64
	W      []float32
}

// z is the uncalibrated log-odds of positive for hashed feature indices.
func (m *langModel) z(idx []uint32) float64 {
	z := m.Bias
	for _, i := range idx {
		z += float64(m.W[i])
	}
	return z
}

// score returns P(positive) for a set of hashed feature indices.
func (m *langModel) score(idx []uint32) float64 {
	return sigmoid(float64(m.PlattA*m.z(idx)) + m.PlattB)
}

// Model is a trained sentiment classifier: one weight vector per language in
// a 2^bits hashed feature space. Get one from Default, Load or Train; it is
// safe for concurrent use.
type Model struct {
	bits uint // log2 of the hashed feature space
	ko   langModel
	en   langModel
}

// Classify reads the sentiment of one review. It never fails: text it cannot
// analyse (no letters, another script) gets the model's best effort, which
// for text with no known features is the prior.
func (m *Model) Classify(text string) Result {
	lang := Detect(text)
	if len(m.ko.W) != 1<<m.bits || len(m.en.W) != 1<<m.bits {
		// A Model not made by Default, Load or Train has no weights.
		return Result{Lang: lang, Label: Positive, Score: 0.5}
	}
	p := m.positiveProbability(lang, text)
	if p >= 0.5 {
		return Result{Lang: lang, Label: Positive, Score: p}
	}
	return Result{Lang: lang, Label: Negative, Score: 1 - p}
}

// positiveProbability scores text with the model of its language. Reviews in
// other languages are scored by the Korean model when they contain any Hangul
// and by the English one otherwise (Latin brand names and emoticons are the
// only features they are likely to share with the training data).
func (m *Model) positiveProbability(lang Lang, text string) float64 {
	if lang == LangOther {
		lang = LangEnglish
		for _, r := range text {
			if isHangulSyllable(r) {
				lang = LangKorean
				break
			}
		}
	}
	var idx []uint32
	if lang == LangKorean {
		feats, err := koreanFeatures(text)
		if err != nil {
			// The dictionary is embedded in the binary; if it cannot load,
			// fall back to the features that need no dictionary.
			feats = appendEmoticons(appendHangulNgrams(nil, truncate(text)), text)
		}
		idx = hashFeatures(feats, m.bits, nil)
		return m.ko.score(idx)
	}
	idx = hashFeatures(englishFeatures(text), m.bits, nil)
	return m.en.score(idx)
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// The model file: gzip of
//
//	magic "MSENT1\n" | bits uint8 | per language (ko, en):
//	bias, plattA, plattB float64 | scale float32 | 2^bits int16 weights
//
// little-endian. Weights are quantised to int16 (w ≈ q·scale, a step of
// 1/32767 of the largest weight): it halves the file against float32, and the
// score is calibrated on the quantised weights, the ones that are saved.
const modelMagic = "MSENT1\n"

// maxBits bounds what Load accepts, so a corrupt file cannot ask for gigabytes.
const maxBits = 24

// Save writes the model in its compact file format. The output is a pure
// function of the weights (no timestamps), so retraining with the same data
// and seed reproduces the file byte for byte.
func (m *Model) Save(w io.Writer) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return fmt.Errorf("starting gzip: %w", err)
	}
	bw := bufio.NewWriter(zw)
	bw.WriteString(modelMagic)
	bw.WriteByte(byte(m.bits))
	for _, lm := range []*langModel{&m.ko, &m.en} {
		if len(lm.W) != 1<<m.bits {
			return fmt.Errorf("saving model: %d weights for %d bits", len(lm.W), m.bits)
		}
		scale, q := quantise(lm.W)
		for _, v := range []float64{lm.Bias, lm.PlattA, lm.PlattB} {
			binary.Write(bw, binary.LittleEndian, v)
		}
		binary.Write(bw, binary.LittleEndian, scale)
		binary.Write(bw, binary.LittleEndian, q)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing model: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("writing model: %w", err)
	}
	return nil
}

// quantise maps weights to int16 with one scale per vector.
func quantise(w []float32) (float32, []int16) {
	var maxAbs float64
	for _, v := range w {
		maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
	}
	q := make([]int16, len(w))
	if maxAbs == 0 {
		return 0, q
	}
	scale := float32(maxAbs / math.MaxInt16)
	for i, v := range w {
		q[i] = int16(math.Round(float64(v) / float64(scale)))
	}
	return scale, q
}

// dequantise restores float weights from quantise's output.
func dequantise(scale float32, q []int16) []float32 {
	w := make([]float32, len(q))
	for i, v := range q {
		w[i] = float32(v) * scale
	}
	return w
}

// ErrBadModel is returned by Load for data that is not a model file.
var ErrBadModel = errors.New("not a Mercato sentiment model")

// Load reads a model written by Save.
func Load(r io.Reader) (*Model, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadModel, err)
	}
	defer zr.Close()
	br := bufio.NewReader(zr)
	head := make([]byte, len(modelMagic)+1)
	if _, err := io.ReadFull(br, head); err != nil || string(head[:len(modelMagic)]) != modelMagic {
		return nil, fmt.Errorf("%w: bad header", ErrBadModel)
	}
	bits := uint(head[len(modelMagic)])
	if bits < 8 || bits > maxBits {
		return nil, fmt.Errorf("%w: %d hash bits", ErrBadModel, bits)
	}
	m := &Model{bits: bits}
	for _, lm := range []*langModel{&m.ko, &m.en} {
		var params [3]float64
		var scale float32
		q := make([]int16, 1<<bits)
		if err := binary.Read(br, binary.LittleEndian, &params); err != nil {
			return nil, fmt.Errorf("%w: reading parameters: %w", ErrBadModel, err)
		}
		if err := binary.Read(br, binary.LittleEndian, &scale); err != nil {
			return nil, fmt.Errorf("%w: reading scale: %w", ErrBadModel, err)
		}
		if err := binary.Read(br, binary.LittleEndian, q); err != nil {
			return nil, fmt.Errorf("%w: reading weights: %w", ErrBadModel, err)
		}
		for _, v := range append(params[:], float64(scale)) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%w: non-finite parameter", ErrBadModel)
			}
		}
		lm.Bias, lm.PlattA, lm.PlattB = params[0], params[1], params[2]
		lm.W = dequantise(scale, q)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data", ErrBadModel)
	}
	return m, nil
}

//go:embed model/sentiment.model.gz
var embeddedModel []byte

// Default returns the model committed with the platform, loaded once on first
// use.
func Default() (*Model, error) { return loadDefault() }

var loadDefault = sync.OnceValues(func() (*Model, error) {
	m, err := Load(bytes.NewReader(embeddedModel))
	if err != nil {
		return nil, fmt.Errorf("loading the embedded sentiment model: %w", err)
	}
	return m, nil
})
