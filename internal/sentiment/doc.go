// Package sentiment reads the sentiment of shop reviews: it detects whether a
// review is Korean, English or another language, turns it into hashed
// features (kagome morphemes with negation scope and Hangul character
// n-grams for Korean; words and bigrams with negation scope for English) and
// scores it with a per-language logistic regression.
//
// The model the platform ships is trained by `mercato sentiment train` from
// the NSMC sample beside the project, the UCI Sentiment Labelled Sentences
// (installed from npm at training time) and the project's own shop reviews
// under data/; it is committed under model/ and embedded, so classifying
// needs none of the training data. Training is deterministic: the same data
// and seed give a byte-identical model file.
package sentiment
