export {
  fashionMnist, FashionMnistOptions, ImageSet, FASHION_MNIST_CLASSES, DEBIAN_FASHION_MNIST_DIR,
  fashionMnistSubsetDir, fashionMnistSearchPath, findFashionMnist, imagesToFloat, firstPerClass, writeFashionMnistSubset,
} from "./fashionMnist";
export {
  penguins, seattleWeather, weather, cars, balancedClassWeights, Row, TableInfo,
  PENGUINS_INFO, SEATTLE_WEATHER_INFO, WEATHER_INFO, CARS_INFO,
} from "./vega";
export {
  brownCorpus, brownTagging, universalTag, BrownPassage, BrownSentence, BrownTagging, BrownTaggingOptions, BROWN_GENRES, UNIVERSAL_TAGS,
} from "./brown";
